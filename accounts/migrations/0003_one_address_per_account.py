from __future__ import annotations

from django.db import migrations
from django.db.models import F
from django.db.models.functions import Lower


def keep_only_the_accounts_own_address(apps, schema_editor):  # type: ignore[no-untyped-def]
    # OPS-5. Until accounts/auth_urls.py replaced allauth's full URL set, a manager could attach
    # any address to their account without verifying it; such a row keeps that address's owner
    # from signing up. An account's own address is the one on the account itself (allauth
    # keeps it equal to the primary address), so every other row goes.
    EmailAddress = apps.get_model("account", "EmailAddress")
    EmailAddress.objects.annotate(own=Lower("user__email")).exclude(own=Lower(F("email"))).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_site_from_settings"), ("account", "0009_emailaddress_unique_primary_email")]

    operations = [migrations.RunPython(keep_only_the_accounts_own_address, migrations.RunPython.noop, elidable=True)]
