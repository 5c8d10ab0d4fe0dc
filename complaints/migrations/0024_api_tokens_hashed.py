"""API keys made by Django REST framework's token table move to knox's, kept only as a hash.

Each key keeps working (knox finds it by its first 15 characters and checks its SHA-512), and
the old table, which held the keys themselves, is emptied. Not reversible: the keys are not kept.
"""

from django.db import migrations


def move_keys_to_hashes(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return  # a database made after DRF's token table was dropped from the apps
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS

    token_model = apps.get_model("knox", "AuthToken")
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        digest = hash_token(key)
        token_model.objects.bulk_create(
            [
                token_model(
                    digest=digest, token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH], user_id=user_id
                )
            ]
        )
        token_model.objects.filter(digest=digest).update(created=created)  # over auto_now_add
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0023_anonymised_letters_not_to_post"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(move_keys_to_hashes, migrations.RunPython.noop)]
