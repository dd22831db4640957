"""Request and response models of the account, KB and audit endpoints."""
from __future__ import annotations

from pydantic import BaseModel, Field

from index.library import KbInfo, Visibility
from service.access.audit import AuditEntry
from service.access.people import Role, TokenInfo


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, description="用户名")
    password: str = Field(min_length=1, max_length=1024, description="密码")


class Me(BaseModel):
    user: str | None = Field(description="登录的用户名；匿名时为 null")
    role: Role | None = Field(description="角色：reader 读者、editor 编辑、admin 管理员；匿名时为 null")
    via: str = Field(description="认证方式：anonymous 匿名、session 页面登录、token API 令牌、api_key 管理密钥")
    csrf_token: str | None = Field(None, description="页面登录时，写操作须在 X-CSRF-Token 请求头中带上它")
    expires: str | None = Field(None, description="登录到期时间（仅登录响应）")


class KbOut(BaseModel):
    name: str
    title: str
    visibility: Visibility = Field(description="可见范围：public 公开、internal 内部")
    documents: int
    writable: bool = Field(description="当前调用者能否上传、删除、停用文档")

    @classmethod
    def of(cls, info: KbInfo, documents: int, writable: bool) -> KbOut:
        return cls(name=info.name, title=info.title, visibility=info.visibility, documents=documents,
                   writable=writable)


class KbList(BaseModel):
    kbs: list[KbOut] = Field(description="当前调用者可读的知识库，默认知识库在前")


class KbCreate(BaseModel):
    name: str = Field(min_length=1, max_length=40, description="名称：小写字母、数字、- 和 _")
    title: str | None = Field(None, max_length=200, description="显示名称")
    visibility: Visibility = Field("internal", description="可见范围：public 公开（匿名可读）或 internal 内部（须授权）")


class KbDeleted(BaseModel):
    name: str
    deleted: bool


class EnabledIn(BaseModel):
    enabled: bool = Field(description="false 停用（保留但不检索），true 重新启用")


class EnabledOut(BaseModel):
    doc_id: str
    enabled: bool


class TokenIn(BaseModel):
    label: str = Field("", max_length=100, description="用途，如 门户网站搜索框")
    days: int | None = Field(None, ge=1, le=3650, description="有效天数；不填为服务器默认值")


class TokenOut(BaseModel):
    id: str
    user: str
    label: str
    created: str
    expires: str
    revoked: str | None
    active: bool

    @classmethod
    def of(cls, info: TokenInfo) -> TokenOut:
        return cls(id=info.id, user=info.user, label=info.label, created=info.created, expires=info.expires,
                   revoked=info.revoked, active=info.active)


class TokenCreated(TokenOut):
    token: str = Field(description="令牌本身：只显示这一次，服务器只保存它的摘要")


class TokenList(BaseModel):
    tokens: list[TokenOut]


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    kb: str | None
    target: str | None
    detail: str | None
    address: str | None
    ok: bool

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(**entry.__dict__)


class AuditList(BaseModel):
    total: int
    entries: list[AuditOut]
