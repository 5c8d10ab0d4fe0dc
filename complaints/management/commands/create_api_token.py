"""Create (or show) the API token of a member of the complaints team."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from complaints.roles import Role, staff_role


class Command(BaseCommand):
    help = "Print USER's API token, creating it if needed (--rotate replaces it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="replace an existing token")

    def handle(self, *args, username: str, rotate: bool, **options) -> None:
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user called {username!r}.") from None
        if staff_role(user) not in (Role.AGENT, Role.MANAGER):
            raise CommandError(
                f"{username!r} is not in the CS Team or CS Managers group, so the API would "
                "refuse the token."
            )
        if rotate:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
