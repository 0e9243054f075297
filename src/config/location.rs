//! Where things live on disk or in a bucket: relative paths and `file://` URLs in a config
//! resolve against the config file's folder (not the shell's current folder), so
//! `dynashift --config /etc/dynashift/tables.toml` behaves the same from any directory.

use std::path::{Component, Path, PathBuf};

use toml::Spanned;

use super::issues::Issues;
use super::model::StoreLocation;

const BUCKET_FORMAT: &str = "write file://PATH for a local folder (relative to this file, or file:///absolute/path) \
                             or s3://BUCKET/PREFIX/";

/// The folder relative paths resolve in: the config file's folder, canonical when it exists,
/// otherwise made absolute against the current folder. The config file itself need not exist.
pub(super) fn base_dir_of(config_path: &Path) -> PathBuf {
    let parent = match config_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    parent
        .canonicalize()
        .or_else(|_| std::path::absolute(parent))
        .map(|dir| normalize(&dir))
        .unwrap_or_else(|_| parent.to_path_buf())
}

/// Resolves a file or folder path written in the config (`what` names it for messages).
pub(super) fn resolve_path(
    base_dir: &Path,
    text: &Spanned<String>,
    what: &str,
    issues: &Issues,
) -> Option<PathBuf> {
    let path = text.get_ref();
    let problem = if path.trim().is_empty() {
        Some(format!("{what} is empty"))
    } else if path.starts_with('~') {
        Some(format!("{what} starts with ~, which dynashift does not expand"))
    } else if path.contains('\0') {
        Some(format!("{what} contains a NUL character"))
    } else {
        None
    };
    if let Some(message) = problem {
        let hint = "write a path relative to this config file's folder, or an absolute path";
        issues.report(text.span(), message, hint);
        return None;
    }
    Some(normalize(&base_dir.join(path)))
}

/// Parses a `bucket` value: `file://…` (a local folder) or `s3://bucket/prefix/`.
pub(super) fn parse_bucket(
    base_dir: &Path,
    text: &Spanned<String>,
    what: &str,
    issues: &Issues,
) -> Option<StoreLocation> {
    let url = text.get_ref();
    if let Some(path) = url.strip_prefix("file://") {
        let path = Spanned::new(text.span(), path.to_owned());
        return resolve_path(base_dir, &path, &format!("the folder of {what}"), issues)
            .map(|root| StoreLocation::Local { root });
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        return parse_s3(rest, text, what, issues);
    }
    let message = match url.split_once("://") {
        Some((scheme, _)) => format!("{what} uses the scheme `{scheme}://`, which dynashift cannot read"),
        None => format!("{what} (\"{url}\") has no scheme"),
    };
    issues.report(text.span(), message, BUCKET_FORMAT);
    None
}

fn parse_s3(rest: &str, text: &Spanned<String>, what: &str, issues: &Issues) -> Option<StoreLocation> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if let Err(reason) = check_bucket_name(bucket) {
        let message = format!("{what} names the S3 bucket \"{bucket}\", which {reason}");
        let hint = "S3 bucket names are 3 to 63 characters of a-z, 0-9, '.' and '-', \
                    starting and ending with a letter or digit";
        issues.report(text.span(), message, hint);
        return None;
    }
    let prefix = match prefix.trim_end_matches('/') {
        "" => String::new(),
        trimmed => format!("{trimmed}/"),
    };
    Some(StoreLocation::S3 { bucket: bucket.to_owned(), prefix })
}

/// S3's bucket naming rules (the ones a typo can break).
pub fn check_bucket_name(bucket: &str) -> Result<(), String> {
    if bucket.is_empty() {
        return Err("is empty".into());
    }
    if !(3..=63).contains(&bucket.len()) {
        return Err(format!("is {} characters long", bucket.len()));
    }
    if let Some(c) =
        bucket.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-')))
    {
        return Err(format!("contains '{c}'"));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(bucket.chars().next()) || !alnum(bucket.chars().last()) {
        return Err("does not start and end with a letter or digit".into());
    }
    Ok(())
}

/// Drops `.` components so resolved paths print cleanly (`..` is kept: it may cross a symlink).
fn normalize(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Spanned<String> {
        Spanned::new(0..1, text.to_owned())
    }

    fn messages(issues: Issues) -> Vec<String> {
        issues.into_sorted().into_iter().map(|i| i.message).collect()
    }

    #[test]
    fn relative_paths_resolve_against_the_base_folder() {
        let issues = Issues::default();
        let base = Path::new("/srv/conf");
        assert_eq!(
            resolve_path(base, &at("./.dynashift/demo"), "x", &issues),
            Some("/srv/conf/.dynashift/demo".into())
        );
        assert_eq!(resolve_path(base, &at("/var/lib/x"), "x", &issues), Some("/var/lib/x".into()));
        assert!(issues.is_empty());
    }

    #[test]
    fn refuses_empty_tilde_and_nul_paths() {
        let issues = Issues::default();
        for bad in ["", "~/data", "a\0b"] {
            assert_eq!(resolve_path(Path::new("/b"), &at(bad), "`state_dir`", &issues), None);
        }
        let messages = messages(issues);
        assert_eq!(messages[0], "`state_dir` is empty");
        assert!(messages[1].contains("does not expand"));
        assert!(messages[2].contains("NUL"));
    }

    #[test]
    fn parses_file_and_s3_buckets() {
        let issues = Issues::default();
        let base = Path::new("/srv/conf");
        let local = parse_bucket(base, &at("file://.dynashift/bucket"), "`bucket`", &issues);
        assert_eq!(local, Some(StoreLocation::Local { root: "/srv/conf/.dynashift/bucket".into() }));
        let absolute = parse_bucket(base, &at("file:///data/b"), "`bucket`", &issues);
        assert_eq!(absolute, Some(StoreLocation::Local { root: "/data/b".into() }));
        let s3 = parse_bucket(base, &at("s3://acme-exports/dynashift"), "`bucket`", &issues);
        assert_eq!(
            s3,
            Some(StoreLocation::S3 { bucket: "acme-exports".into(), prefix: "dynashift/".into() })
        );
        let bare = parse_bucket(base, &at("s3://acme-exports/"), "`bucket`", &issues);
        assert_eq!(bare, Some(StoreLocation::S3 { bucket: "acme-exports".into(), prefix: String::new() }));
        assert!(issues.is_empty());
    }

    #[test]
    fn explains_bad_buckets() {
        let issues = Issues::default();
        for bad in ["gs://x/y", "/data/bucket", "s3://Acme/x", "s3://ab", "s3://-abc", "s3:///p", "file://"] {
            assert_eq!(parse_bucket(Path::new("/b"), &at(bad), "`bucket`", &issues), None, "{bad}");
        }
        let messages = messages(issues);
        assert_eq!(messages[0], "`bucket` uses the scheme `gs://`, which dynashift cannot read");
        assert_eq!(messages[1], "`bucket` (\"/data/bucket\") has no scheme");
        assert!(messages[2].contains("contains 'A'"));
        assert!(messages[3].contains("2 characters long"));
        assert!(messages[4].contains("start and end"));
        assert!(messages[5].contains("is empty"));
        assert_eq!(messages[6], "the folder of `bucket` is empty");
    }

    #[test]
    fn the_base_folder_is_absolute_even_when_missing() {
        let base = base_dir_of(Path::new("no/such/dir/tables.toml"));
        assert!(base.is_absolute());
        assert!(base.ends_with("no/such/dir"));
        assert!(base_dir_of(Path::new("tables.toml")).is_absolute());
    }
}
