//! PLACEHOLDER (lead)
