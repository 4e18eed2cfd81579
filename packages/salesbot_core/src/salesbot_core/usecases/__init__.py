"""Use cases: one class per thing a customer (or the shop) does, each with one ``async __call__``."""

from salesbot_core.usecases.accounts import CheckEmail, GetProfile, GrantAdmin, RegisterUser
from salesbot_core.usecases.chat import (
    DeleteConversation,
    ExchangeResult,
    GetHistory,
    History,
    ListConversations,
    RenameConversation,
    SendMessage,
)
from salesbot_core.usecases.sessions import (
    CleanupTokens,
    ClientInfo,
    Login,
    LoginResult,
    Logout,
    LogoutAll,
    RefreshSession,
    TokenPair,
)

__all__ = [
    "CheckEmail",
    "CleanupTokens",
    "ClientInfo",
    "DeleteConversation",
    "ExchangeResult",
    "GetHistory",
    "GetProfile",
    "GrantAdmin",
    "History",
    "ListConversations",
    "Login",
    "LoginResult",
    "Logout",
    "LogoutAll",
    "RefreshSession",
    "RegisterUser",
    "RenameConversation",
    "SendMessage",
    "TokenPair",
]
