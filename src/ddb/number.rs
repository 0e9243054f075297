//! PLACEHOLDER (stage helper replaces this file).
