"""Use cases: one class per thing a customer (or the shop) does, each with one ``async __call__``."""

from salesbot_core.usecases.accounts import CheckEmail, GetProfile, GrantAdmin, RegisterUser
from salesbot_core.usecases.catalogue import (
    ExportCatalogue,
    ImportCatalogue,
    ListProducts,
    RemoveProduct,
    SaveProduct,
)
from salesbot_core.usecases.distilling import (
    DistillationPolicy,
    Distillations,
    DistillationSource,
    DistilMetadata,
    DistilPending,
)
from salesbot_core.usecases.insight import (
    GetLeadConversation,
    GetSalesAnalytics,
    LeadPage,
    LeadReadLimits,
    ListLeads,
    SalesAnalytics,
)
from salesbot_core.usecases.integrity import CheckIntegrity, IntegrityReport
from salesbot_core.usecases.login_throttle import LoginLimits, ThrottledLogin
from salesbot_core.usecases.managing import DeleteConversation, RenameConversation
from salesbot_core.usecases.reading import ConversationPage, GetHistory, History, ListConversations
from salesbot_core.usecases.sending import ExchangeResult, SendMessage
from salesbot_core.usecases.sessions import (
    CleanupTokens,
    ClientInfo,
    EndSession,
    ListSessions,
    Login,
    LoginResult,
    Logout,
    LogoutAll,
    RefreshSession,
    TokenPair,
)
from salesbot_core.usecases.webhooks import (
    DeliverWebhooks,
    DeliveryPage,
    DeliveryPolicy,
    ListWebhookDeliveries,
    RetryWebhooks,
)

__all__ = [
    "CheckEmail",
    "CheckIntegrity",
    "CleanupTokens",
    "ClientInfo",
    "ConversationPage",
    "DeleteConversation",
    "DeliverWebhooks",
    "DeliveryPage",
    "DeliveryPolicy",
    "DistilMetadata",
    "DistilPending",
    "DistillationPolicy",
    "DistillationSource",
    "Distillations",
    "EndSession",
    "ExchangeResult",
    "ExportCatalogue",
    "GetHistory",
    "GetLeadConversation",
    "GetProfile",
    "GetSalesAnalytics",
    "GrantAdmin",
    "History",
    "ImportCatalogue",
    "IntegrityReport",
    "LeadPage",
    "LeadReadLimits",
    "ListConversations",
    "ListLeads",
    "ListProducts",
    "ListSessions",
    "ListWebhookDeliveries",
    "Login",
    "LoginLimits",
    "LoginResult",
    "Logout",
    "LogoutAll",
    "RefreshSession",
    "RegisterUser",
    "RemoveProduct",
    "RenameConversation",
    "RetryWebhooks",
    "SalesAnalytics",
    "SaveProduct",
    "SendMessage",
    "ThrottledLogin",
    "TokenPair",
]
