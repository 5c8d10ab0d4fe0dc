"""Letters by post: which letters are to be posted, and who posted them when.

Letters issued before this are not marked to post: whether they were posted is not known here."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('complaints', '0021_email_on_withdrawal'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='letter',
            name='posted_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='letter',
            name='posted_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='letter',
            name='to_post',
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name='complaintevent',
            name='kind',
            field=models.CharField(choices=[('filed', 'Complaint received'), ('transition', 'Status changed'), ('reply', 'Reply given'), ('message', 'Message'), ('note', 'Internal note'), ('assignment', 'Assigned'), ('attachment', 'File added'), ('letter', 'Letter posted'), ('overdue', 'Reply overdue'), ('remedy', 'CISAS remedy'), ('link', 'Tracking link sent'), ('privacy', 'Personal data')], max_length=20),
        ),
        migrations.AddIndex(
            model_name='letter',
            index=models.Index(condition=models.Q(('posted_at__isnull', True), ('to_post', True)), fields=['issued_at', 'id'], name='letter_to_post_idx'),
        ),
    ]
