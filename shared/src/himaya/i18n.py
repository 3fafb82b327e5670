"""Languages for problem titles and reference-data labels: Arabic, French, English (default)."""

from __future__ import annotations

SUPPORTED = ("en", "fr", "ar")

TITLES: dict[str, dict[str, str]] = {
    "fr": {
        "bad_request": "Requête invalide",
        "unauthorized": "Non authentifié",
        "forbidden": "Interdit",
        "not_found": "Introuvable",
        "method_not_allowed": "Méthode non autorisée",
        "conflict": "Conflit",
        "transition_not_allowed": "Transition non autorisée",
        "invalid_input": "Données invalides",
        "validation_failed": "Validation échouée",
        "precondition_required": "Précondition requise",
        "precondition_failed": "Précondition échouée",
        "payload_too_large": "Requête trop volumineuse",
        "too_many_requests": "Trop de requêtes",
        "internal_error": "Erreur interne du serveur",
        "bad_gateway": "Passerelle incorrecte",
        "service_unavailable": "Service indisponible",
        "gateway_timeout": "Délai de la passerelle dépassé",
        "idempotency_conflict": "Requête idempotente en cours",
        "idempotency_key_reused": "Clé d'idempotence réutilisée",
        "repeated_header": "En-tête répété",
    },
    "ar": {
        "bad_request": "طلب غير صالح",
        "unauthorized": "غير مصادق عليه",
        "forbidden": "ممنوع",
        "not_found": "غير موجود",
        "method_not_allowed": "طريقة غير مسموح بها",
        "conflict": "تعارض",
        "transition_not_allowed": "انتقال غير مسموح به",
        "invalid_input": "بيانات غير صالحة",
        "validation_failed": "فشل التحقق",
        "precondition_required": "شرط مسبق مطلوب",
        "precondition_failed": "فشل الشرط المسبق",
        "payload_too_large": "حجم الطلب كبير جدا",
        "too_many_requests": "طلبات كثيرة جدا",
        "internal_error": "خطأ داخلي في الخادم",
        "bad_gateway": "بوابة غير صالحة",
        "service_unavailable": "الخدمة غير متوفرة",
        "gateway_timeout": "انتهت مهلة البوابة",
        "idempotency_conflict": "طلب متطابق قيد التنفيذ",
        "idempotency_key_reused": "مفتاح التكرار مستعمل لطلب آخر",
        "repeated_header": "ترويسة مكررة",
    },
}


def negotiate_language(accept_language: str | None) -> str:
    """Pick ar, fr or en from an Accept-Language header by quality; English by default."""
    if not accept_language:
        return "en"
    best, best_q = "en", -1.0
    for part in accept_language.split(",")[:10]:
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower()[:2]
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if lang in SUPPORTED and q > best_q:
            best, best_q = lang, q
    return best


def translate_title(code: str, english: str, language: str) -> str:
    """The title for `code` in `language`, falling back to the English one."""
    return TITLES.get(language, {}).get(code, english)
