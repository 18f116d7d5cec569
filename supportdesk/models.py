"""Imports every domain's models so metadata (migrations, create_all) sees all tables."""

from supportdesk.accounts.models import *  # noqa: F403
from supportdesk.audit.models import *  # noqa: F403
from supportdesk.cache.generations import CacheGeneration  # noqa: F401
from supportdesk.escalation.models import *  # noqa: F403
from supportdesk.faq.models import *  # noqa: F403
from supportdesk.idempotency import IdempotencyKey  # noqa: F401
from supportdesk.notifications.models import *  # noqa: F403
from supportdesk.numbering import NumberSequence  # noqa: F401
from supportdesk.outbox import OutboxMessage  # noqa: F401
from supportdesk.replies.models import *  # noqa: F403
from supportdesk.search.models import *  # noqa: F403
from supportdesk.tickets.models import *  # noqa: F403
from supportdesk.webhooks.models import *  # noqa: F403
