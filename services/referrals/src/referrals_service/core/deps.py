"""Dependencies of the referrals routes: the context of a request for each set of scopes, and idempotency."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from himaya.auth import Principal, require_scopes
from himaya.db import SessionDep
from himaya.idempotency import Idempotency, idempotency_dependency
from himaya.scopes import Scope
from referrals_service.core.context import Context
from referrals_service.core.tables import idempotency_keys


def context_for(*scopes: Scope) -> Callable[..., Coroutine[Any, Any, Context]]:
    """A dependency answering the request's context, for a caller holding every one of `scopes` (403 otherwise).

    The cipher, the clients and the URL guard are built in the app's lifespan; the caller's own Authorization
    header is forwarded to cases and identity."""

    caller = Depends(require_scopes(*scopes))

    async def context(request: Request, session: SessionDep, principal: Principal = caller) -> Context:
        state = request.app.state
        return Context(session=session, principal=principal, cipher=state.field_cipher, cases=state.cases_client,
                       identity=state.identity_client, guard=state.url_guard,
                       authorization=request.headers.get("authorization", ""))

    return context


Reader = Annotated[Context, Depends(context_for(Scope.REFERRALS_READ))]
Sender = Annotated[Context, Depends(context_for(Scope.REFERRALS_WRITE))]
Receiver = Annotated[Context, Depends(context_for(Scope.REFERRALS_RECEIVE))]
Decider = Annotated[Context, Depends(context_for(Scope.DECISIONS_WRITE))]
WebhookManager = Annotated[Context, Depends(context_for(Scope.WEBHOOKS_MANAGE))]
# Creating a subscription, reading its deliveries and redelivering receive referral data: read scope too.
WebhookReceiver = Annotated[Context, Depends(context_for(Scope.WEBHOOKS_MANAGE, Scope.REFERRALS_READ))]
Administrator = Annotated[Context, Depends(context_for(Scope.IDENTITY_ADMIN))]
IdempotencyDep = Annotated[Idempotency, idempotency_dependency(idempotency_keys)]
IdempotencyRequiredDep = Annotated[Idempotency, idempotency_dependency(idempotency_keys, required=True)]
