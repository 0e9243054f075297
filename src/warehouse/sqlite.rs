//! PLACEHOLDER (sqlite helper replaces this file).
