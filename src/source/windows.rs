//! PLACEHOLDER (source helper replaces this file).
