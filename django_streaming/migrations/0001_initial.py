"""``LiveAnswer``: no table (``managed = False``), only the admin's live answers page and its
permissions."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="LiveAnswer",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "verbose_name": "live answer",
                "verbose_name_plural": "live answers",
                "permissions": [
                    ("view_live_answers", "Can see the live answers"),
                    ("stop_live_answers", "Can stop live answers"),
                ],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
