//! PLACEHOLDER (tui helper replaces this file).
