"""Letters of customers whose personal data was removed before anonymising took them off the
list of letters to post: they have no address to go to."""

from django.db import migrations


def not_to_post(apps, schema_editor):
    Letter = apps.get_model("complaints", "Letter")
    Letter.objects.filter(
        to_post=True, posted_at__isnull=True, complaint__postal_address=""
    ).update(to_post=False)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0022_letters_by_post")]

    operations = [migrations.RunPython(not_to_post, migrations.RunPython.noop)]
