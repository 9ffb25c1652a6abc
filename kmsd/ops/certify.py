"""Certify, Re-Certify and Validate: the server as a small certificate authority.

KMIP 2.1 sections 6.1.8, 6.1.41 and 6.1.57 (1.4 sections 4.7, 4.8, 4.24).

Certify issues an X.509 certificate for a public key held in the server
(Unique Identifier) or for the key of a PKCS#10 request, with the subject of
the request, or else the subject the client gives as attributes (1.x
Certificate Subject, or the Certificate Subject CN/O/OU/… fields).  The
issuer is named by a Link in the request's attributes:

* Certificate Link -> the issuer's certificate, whose private key is found
  through its Private Key Link or its Public Key Link's Private Key Link;
* Private Key Link -> the issuing private key (its certificate, if it has
  one, through the same links; none: the certificate is self-signed);
* no Link: self-signed with the private key linked to the subject key —
  which is how a CA is created.

The certificate gets a Public Key Link to its key and a Certificate Link to
its issuer's certificate; the public key gets a Certificate Link to it.
Re-Certify issues a replacement for a certificate: the same key, issuer and
(unless a new request says otherwise) subject, the names moved and the
Replaced/Replacement Object Links set as for Re-Key.  Validate checks a chain
of certificates: names, signatures, validity at the Validity Date, CA flags.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from cryptography import x509

from kmsd.crypto import certificates, issuing
from kmsd.crypto.asymmetric import PrivateKey, PublicKey
from kmsd.crypto.errors import MalformedMaterial
from kmsd.kmip import tags
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.kmip.enums import (
    LinkType,
    ObjectType,
    Operation,
    ResultReason,
    State,
    ValidityIndicator,
)
from kmsd.kmip.errors import KmipError, invalid_field, missing
from ttlv import REGISTRY, Item, ItemType

from . import objects, templates
from .asymkeys import new_certificate, read_block
from .attribute_rules import rule_for
from .context import Context
from .objects import link
from .registry import handler
from .rekey import _finish, _move_names, replacement_attributes

SUBJECT_PREFIX = "Certificate Subject "
PKCS_10, PEM = 0x00000002, 0x00000003  # Certificate Request Type
DEAD_STATES = frozenset({State.DESTROYED, State.DESTROYED_COMPROMISED, State.COMPROMISED})


@handler(Operation.CERTIFY, writes=True)
def certify(ctx: Context, payload: Item) -> Item:
    attrs = _attributes(ctx, payload)
    csr = _request(ctx, payload)
    subject_uid = payload.get(tags.UniqueIdentifier)
    if not isinstance(subject_uid, str):
        subject_uid = None if csr is not None else objects.request_uid(ctx, payload)
    # Locked: its Certificate Link is rewritten below (no lost update beside a concurrent change).
    subject_obj = objects.load(ctx, subject_uid, "get", for_update=True) if subject_uid is not None else None
    if subject_obj is not None and subject_obj.object_type == ObjectType.CERTIFICATE_REQUEST and csr is None:
        # 2.x: "the Unique Identifier of the Public Key or the Certificate Request being certified"
        csr, subject_obj = _stored_request(subject_obj), None
    if subject_obj is not None:
        if subject_obj.object_type != ObjectType.PUBLIC_KEY or subject_obj.obj is None:
            raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"object {subject_obj.uid} is not a public key")
        subject_key: PublicKey = read_block(ObjectType.PUBLIC_KEY, subject_obj.obj)[0]  # type: ignore[assignment]
    else:
        assert csr is not None
        if not issuing.csr_signature_valid(csr):
            raise KmipError(ResultReason.INVALID_CSR, "the certificate request's signature does not verify")
        subject_key = csr.public_key()  # type: ignore[assignment]
    subject = _subject(csr, attrs)
    issuer, issuer_cert_uid = _issuer(ctx, attrs, subject_obj)
    cert = issuing.issue(
        subject_key,
        subject,
        issuer,
        not_before=_date(attrs, tags.ActivationDate) or ctx.now,
        not_after=_date(attrs, tags.DeactivationDate),
        extensions=csr.extensions if csr is not None else None,
    )
    client = tuple(a for a in attrs if not _is_issuer_link(a) and rule_for(a).on_create)
    links = []
    if subject_obj is not None:
        links.append(link(LinkType.PUBLIC_KEY_LINK, subject_obj.uid))
    if issuer_cert_uid is not None:
        links.append(link(LinkType.CERTIFICATE_LINK, issuer_cert_uid))
    new = _store(ctx, cert, client, tuple(links))
    if subject_obj is not None:
        subject_obj.attrs = (
            *(a for a in subject_obj.attrs if not _link_of(a, LinkType.CERTIFICATE_LINK)),
            link(LinkType.CERTIFICATE_LINK, new.uid),
        )
        objects.save(ctx, subject_obj)
    ctx.id_placeholder = new.uid
    return _response(new.uid)


@handler(Operation.RE_CERTIFY, writes=True)
def re_certify(ctx: Context, payload: Item) -> Item:
    uid = objects.request_uid(ctx, payload)
    old = objects.load(ctx, uid, "rekey", for_update=True)
    if old.object_type != ObjectType.CERTIFICATE or old.obj is None:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"object {uid} is not a certificate")
    if old.state in DEAD_STATES:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"certificate {uid} is {old.state.name}")
    old_cert, _ = certificates.load(old.obj)
    requested = _attributes(ctx, payload)
    csr = _request(ctx, payload)
    subject = csr.subject if csr is not None else old_cert.subject
    public_uid = _linked(old.attrs, LinkType.PUBLIC_KEY_LINK)
    issuer_uid = _linked(old.attrs, LinkType.CERTIFICATE_LINK)
    if issuer_uid is not None:
        issuer_link = (link(LinkType.CERTIFICATE_LINK, issuer_uid),)
        issuer, _ = _issuer(ctx, issuer_link, None)
    elif old_cert.issuer == old_cert.subject and public_uid is not None:
        issuer, _ = _issuer(ctx, (), objects.load(ctx, public_uid, "get"))
    else:
        raise KmipError(ResultReason.INVALID_FIELD, f"the issuer of certificate {uid} is not held by the server")
    offset = payload.get(tags.Offset)
    lifetime = old_cert.not_valid_after_utc - old_cert.not_valid_before_utc
    not_before = ctx.now + timedelta(seconds=offset) if isinstance(offset, int) else ctx.now
    cert = issuing.issue(
        old_cert.public_key(),  # type: ignore[arg-type]
        subject,
        issuer,
        not_before=not_before,
        not_after=not_before + lifetime,
        extensions=csr.extensions if csr is not None else old_cert.extensions,
    )
    carried = replacement_attributes(ctx, old, requested, offset if isinstance(offset, int) else None)
    carried = tuple(a for a in carried if a.tag not in _CERT_DERIVED)
    links = tuple(
        a for a in old.attrs if _link_of(a, LinkType.PUBLIC_KEY_LINK) or _link_of(a, LinkType.CERTIFICATE_LINK)
    )
    _move_names(ctx, old)
    # The Replaced Object Link first: it is what makes this certificate a
    # replacement (1.x clients see it as the Link of Attribute Index 0).
    new = new_certificate(ctx, cert, carried, (link(LinkType.REPLACED_OBJECT_LINK, old.uid), *links))
    _finish(ctx, old, new)
    if public_uid is not None:
        public = objects.load(ctx, public_uid, "get", for_update=True)
        public.attrs = (
            *(a for a in public.attrs if not _link_of(a, LinkType.CERTIFICATE_LINK)),
            link(LinkType.CERTIFICATE_LINK, new.uid),
        )
        objects.save(ctx, public)
    ctx.id_placeholder = new.uid
    return _response(new.uid)


@handler(Operation.VALIDATE)
def validate(ctx: Context, payload: Item) -> Item:
    chain: list[x509.Certificate] = []
    for item in payload.find_all(tags.Certificate):
        chain.append(certificates.load(item)[0])
    for uid_item in payload.find_all(tags.UniqueIdentifier):
        if not isinstance(uid_item.value, str):
            continue
        mo = objects.load(ctx, uid_item.value, "get")
        if mo.object_type != ObjectType.CERTIFICATE or mo.obj is None:
            raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"object {uid_item.value} is not a certificate")
        chain.append(certificates.load(mo.obj)[0])
    if not chain:
        raise missing("Certificate or Unique Identifier")
    when = payload.get(tags.ValidityDate)
    indicator = check_chain(chain, when if isinstance(when, datetime) else ctx.now)
    return Item(
        tags.ResponsePayload,
        ItemType.STRUCTURE,
        (Item(tags.ValidityIndicator, ItemType.ENUMERATION, int(indicator)),),
    )


def check_chain(chain: list[x509.Certificate], when: datetime) -> ValidityIndicator:
    """Order the certificates leaf first and check each link of the chain."""
    remaining = list(chain)
    issuers = {c.issuer for c in remaining if c.issuer != c.subject}
    leaves = [c for c in remaining if c.subject not in issuers]
    if len(leaves) != 1:
        return ValidityIndicator.INVALID
    ordered = [leaves[0]]
    remaining.remove(leaves[0])
    while remaining:
        current = ordered[-1]
        parent = next((c for c in remaining if c.subject == current.issuer), None)
        if parent is None:
            return ValidityIndicator.INVALID  # certificates that are not part of the chain
        ordered.append(parent)
        remaining.remove(parent)
    for cert in ordered:
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            return ValidityIndicator.INVALID
    for cert, parent in itertools.pairwise(ordered):
        if not issuing.is_ca(parent) or not issuing.verify_signed_by(cert, parent):
            return ValidityIndicator.INVALID
    top = ordered[-1]
    if top.issuer != top.subject:
        return ValidityIndicator.UNKNOWN  # no trust anchor given
    return ValidityIndicator.VALID if issuing.verify_signed_by(top, top) else ValidityIndicator.INVALID


# -- helpers -------------------------------------------------------------------------------------------
_CERT_DERIVED = frozenset(
    {tags.CryptographicAlgorithm, tags.CryptographicLength, tags.CertificateType, tags.DigitalSignatureAlgorithm}
)


def _attributes(ctx: Context, payload: Item) -> tuple[Item, ...]:
    found = payload.find(tags.Attributes)
    return templates.expand(ctx, found.children) if found is not None else ()


def _request(ctx: Context, payload: Item) -> x509.CertificateSigningRequest | None:
    value = payload.get(tags.CertificateRequestValue)
    if value is None:
        value = payload.get(tags.CertificateRequest)
    stored_uid = payload.get(tags.CertificateRequestUniqueIdentifier)  # Re-Certify, 2.x
    if stored_uid is not None:
        if value is not None:
            raise invalid_field("give a Certificate Request or its Unique Identifier, not both")
        if not isinstance(stored_uid, str):
            raise invalid_field("Certificate Request Unique Identifier must be a Text String")
        return _stored_request(objects.load(ctx, stored_uid, "get"))
    if value is None:
        return None
    return _parse_request(payload.get(tags.CertificateRequestType), value)


def _stored_request(mo: objects.ManagedObject) -> x509.CertificateSigningRequest:
    """The request in a Certificate Request object the caller may Get."""
    if mo.object_type != ObjectType.CERTIFICATE_REQUEST:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"object {mo.uid} is not a Certificate Request")
    if mo.obj is None:
        raise KmipError(ResultReason.OBJECT_DESTROYED, f"certificate request {mo.uid} has been destroyed")
    if mo.state in DEAD_STATES:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"certificate request {mo.uid} is {mo.state.name}")
    return _parse_request(mo.obj.get(tags.CertificateRequestType), mo.obj.get(tags.CertificateRequestValue))


def _parse_request(kind: object, value: object) -> x509.CertificateSigningRequest:
    if kind not in (PKCS_10, PEM):
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "only PKCS#10 (DER or PEM) certificate requests")
    if not isinstance(value, bytes):
        raise KmipError(ResultReason.INVALID_CSR, "the certificate request is not a byte string")
    try:
        return issuing.load_csr(value)
    except MalformedMaterial as e:
        raise KmipError(ResultReason.INVALID_CSR, e.message) from None


def _subject(csr: x509.CertificateSigningRequest | None, attrs: tuple[Item, ...]) -> x509.Name:
    fields: list[tuple[str, str]] = []
    for a in attrs:
        name = REGISTRY.tag_name(a.tag) or ""
        if name.startswith(SUBJECT_PREFIX) and isinstance(a.value, str):
            fields.append((name[len(SUBJECT_PREFIX) :], a.value))
    if fields:
        return issuing.name_from_fields(fields)
    legacy = next((a for a in attrs if a.tag == tags.CertificateSubject), None)
    dn = legacy.get(tags.CertificateSubjectDistinguishedName) if legacy is not None else None
    if isinstance(dn, str) and dn:
        return issuing.name_from_rfc4514(dn)
    if csr is not None:
        return csr.subject
    raise missing("the certificate subject (a PKCS#10 request or Certificate Subject attributes)")


def _is_issuer_link(a: Item) -> bool:
    return _link_of(a, LinkType.CERTIFICATE_LINK) or _link_of(a, LinkType.PRIVATE_KEY_LINK)


def _link_of(a: Item, link_type: LinkType) -> bool:
    return a.tag == tags.Link and a.get(tags.LinkType) == link_type


def _linked(attrs: tuple[Item, ...], link_type: LinkType) -> str | None:
    for a in attrs:
        if _link_of(a, link_type):
            value = a.get(tags.LinkedObjectIdentifier)
            if isinstance(value, str):
                return value
    return None


def _date(attrs: tuple[Item, ...], tag: int) -> datetime | None:
    for a in attrs:
        if a.tag == tag and isinstance(a.value, datetime):
            return a.value
    return None


def _issuer(
    ctx: Context, attrs: tuple[Item, ...], subject: objects.ManagedObject | None
) -> tuple[issuing.Issuer, str | None]:
    """The issuing private key and certificate, and the certificate's uid."""
    cert_uid = _linked(attrs, LinkType.CERTIFICATE_LINK)
    key_uid = _linked(attrs, LinkType.PRIVATE_KEY_LINK)
    cert_mo = _load_issuer(ctx, cert_uid, ObjectType.CERTIFICATE) if cert_uid else None
    if key_uid is None and cert_mo is not None:
        key_uid = _private_of(ctx, cert_mo)
    if key_uid is None:
        if subject is None:
            raise missing("the issuer (a Certificate Link or Private Key Link attribute)")
        key_uid = _linked(subject.attrs, LinkType.PRIVATE_KEY_LINK)
        if key_uid is None:
            raise KmipError(
                ResultReason.INVALID_FIELD, f"public key {subject.uid} has no Private Key Link to sign with"
            )
    key_mo = _load_issuer(ctx, key_uid, ObjectType.PRIVATE_KEY)
    mask = key_mo.get(tags.CryptographicUsageMask)
    if isinstance(mask, int) and not mask & (Mask.SIGN | Mask.CERTIFICATE_SIGN):
        raise KmipError(
            ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, f"private key {key_uid} may not sign certificates"
        )
    assert key_mo.obj is not None
    key: PrivateKey = read_block(ObjectType.PRIVATE_KEY, key_mo.obj)[0]  # type: ignore[assignment]
    if cert_mo is None and cert_uid is None:
        found = _certificate_of(ctx, key_mo)
        if found is not None and (subject is None or _linked(key_mo.attrs, LinkType.PUBLIC_KEY_LINK) != subject.uid):
            cert_mo = found
    cert = certificates.load(cert_mo.obj)[0] if cert_mo is not None and cert_mo.obj is not None else None
    if cert is not None and cert.public_key() != key.public_key():
        raise KmipError(ResultReason.INVALID_FIELD, "the issuer certificate does not certify the issuing private key")
    return issuing.Issuer(key, cert), (cert_mo.uid if cert_mo is not None else None)


def _load_issuer(ctx: Context, uid: str, object_type: ObjectType) -> objects.ManagedObject:
    mo = objects.load(ctx, uid, "get")
    if mo.object_type != object_type:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"issuer object {uid} is not a {object_type.name}")
    if mo.obj is None or mo.state in DEAD_STATES:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"issuer object {uid} is {mo.state.name}")
    return mo


def _private_of(ctx: Context, cert_mo: objects.ManagedObject) -> str | None:
    direct = _linked(cert_mo.attrs, LinkType.PRIVATE_KEY_LINK)
    if direct is not None:
        return direct
    public_uid = _linked(cert_mo.attrs, LinkType.PUBLIC_KEY_LINK)
    if public_uid is None:
        return None
    public = objects.load(ctx, public_uid, "get")
    return _linked(public.attrs, LinkType.PRIVATE_KEY_LINK)


def _certificate_of(ctx: Context, key_mo: objects.ManagedObject) -> objects.ManagedObject | None:
    uid = _linked(key_mo.attrs, LinkType.CERTIFICATE_LINK)
    if uid is None:
        public_uid = _linked(key_mo.attrs, LinkType.PUBLIC_KEY_LINK)
        if public_uid is not None:
            uid = _linked(objects.load(ctx, public_uid, "get").attrs, LinkType.CERTIFICATE_LINK)
    if uid is None:
        return None
    try:
        mo = objects.load(ctx, uid, "get")
    except KmipError:
        return None
    return mo if mo.object_type == ObjectType.CERTIFICATE and mo.obj is not None else None


def _store(
    ctx: Context, cert: x509.Certificate, client: tuple[Item, ...], links: tuple[Item, ...]
) -> objects.ManagedObject:
    mo = new_certificate(ctx, cert, client, links)
    objects.apply_time_transitions(mo, ctx.now)
    objects.insert(ctx, mo)
    return mo


def _response(uid: str) -> Item:
    return Item(tags.ResponsePayload, ItemType.STRUCTURE, (Item(tags.UniqueIdentifier, ItemType.TEXT_STRING, uid),))
