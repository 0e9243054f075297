//! MD5 checksums as exports write them: base64 of the 16 digest bytes (`md5Checksum` in
//! `manifest-files.json`, and the content of the `.md5` / `.checksum` files beside manifests).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};

/// The base64 MD5 of `bytes`.
pub(super) fn md5_base64(bytes: &[u8]) -> String {
    STANDARD.encode(Md5::digest(bytes))
}

/// Base64 of a finished digest.
pub(super) fn digest_base64(digest: &[u8]) -> String {
    STANDARD.encode(digest)
}

/// Whether a checksum text from an export names `actual_base64`. Exports write base64; a
/// 32-character hex digest (what some tools write) is accepted too. Surrounding whitespace is
/// ignored.
pub(super) fn checksum_matches(expected: &str, actual_base64: &str) -> bool {
    let expected = expected.trim();
    if expected == actual_base64 {
        return true;
    }
    let is_hex = expected.len() == 32 && expected.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex {
        return false;
    }
    let Ok(actual) = STANDARD.decode(actual_base64) else {
        return false;
    };
    let actual_hex: String = actual.iter().map(|b| format!("{b:02x}")).collect();
    actual_hex.eq_ignore_ascii_case(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_base64_of_the_digest() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(md5_base64(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn matches_base64_and_hex_forms() {
        let actual = md5_base64(b"");
        assert!(checksum_matches("1B2M2Y8AsgTpgAmY7PhCfg==", &actual));
        assert!(checksum_matches(" 1B2M2Y8AsgTpgAmY7PhCfg==\n", &actual));
        assert!(checksum_matches("D41D8CD98F00B204E9800998ECF8427E", &actual));
        assert!(!checksum_matches("y+zg5fVeudb3R3DOQ+RKgA==", &actual));
        assert!(!checksum_matches("d41d8cd98f00b204e9800998ecf8427f", &actual));
        assert!(!checksum_matches("", &actual));
    }
}
