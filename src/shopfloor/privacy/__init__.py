"""Free text (work orders, complaints): masking personal data before it is stored."""

from shopfloor.privacy.masking import (
    ColumnMask,
    MaskingPolicy,
    MaskResult,
    decrypt_mapping,
    encrypt_mapping,
    mask_column,
    mask_text,
    unmask,
)

__all__ = [
    "ColumnMask",
    "MaskResult",
    "MaskingPolicy",
    "decrypt_mapping",
    "encrypt_mapping",
    "mask_column",
    "mask_text",
    "unmask",
]
