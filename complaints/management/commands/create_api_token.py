"""Make an API key for a member of the complaints team (shown once: only its hash is kept)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from complaints.api_auth import api_token_issue
from complaints.roles import Role, staff_role


class Command(BaseCommand):
    help = (
        "Print a new API key for USER. It is shown only now: the database keeps its hash. "
        "--rotate makes the user's other keys stop working."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--rotate", action="store_true", help="revoke the user's other keys (a lost key)"
        )

    def handle(self, *args, username: str, rotate: bool, **options) -> None:
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user called {username!r}.") from None
        if staff_role(user) not in (Role.AGENT, Role.MANAGER):
            raise CommandError(
                f"{username!r} is not in the CS Team or CS Managers group, so the API would "
                "refuse the key."
            )
        self.stdout.write(api_token_issue(user=user, revoke_others=rotate))
