//! PLACEHOLDER (config helper replaces this file).
pub fn is_valid_identifier(name: &str) -> bool {
    !name.is_empty()
}
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
