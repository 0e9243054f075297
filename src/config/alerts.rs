//! `[notify]` and `[metrics]`: what dynashift tells the outside world after each run — a command
//! it runs with the run's outcome (a pager, a chat hook) and a Prometheus text file for
//! node_exporter's textfile collector. Read and validated here, in one place, so the monitoring
//! sections stay out of the table and warehouse readers.

use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

use super::issues::Issues;
use super::location::resolve_path;
use super::model::{MetricsConfig, NotifyConfig};
use super::reader::{Key, Section};

/// How long a notify command may run when `timeout` is left out.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The accepted `timeout` range: long enough for a slow pager API, short enough that a hung
/// command never holds a cron run for long.
const TIMEOUT_RANGE: std::ops::RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(3600);

pub(super) const NOTIFY_KEYS: &[Key] = &[
    Key::new("command", "command = [\"/usr/local/bin/page\", \"--team\", \"data\"]"),
    Key::new("on_success", "on_success = false"),
    Key::new("on_lag", "on_lag = false"),
    Key::new("timeout", "timeout = \"30s\""),
];

pub(super) const METRICS_KEYS: &[Key] =
    &[Key::new("file", "file = \"/var/lib/node_exporter/textfile/dynashift.prom\"")];

/// The two sections as read, values checked one by one.
#[derive(Debug, Default)]
pub(super) struct RawAlerts {
    notify: Option<RawNotify>,
    metrics: Option<RawMetrics>,
}

#[derive(Debug)]
struct RawNotify {
    span: std::ops::Range<usize>,
    command: Option<Spanned<Vec<Spanned<String>>>>,
    /// `command` is not written at all (rather than written wrong, which is reported already).
    command_missing: bool,
    on_success: Option<bool>,
    on_lag: Option<bool>,
    timeout: Option<Spanned<Duration>>,
}

#[derive(Debug)]
struct RawMetrics {
    span: std::ops::Range<usize>,
    file: Option<Spanned<String>>,
    file_missing: bool,
}

/// Reads `[notify]` and `[metrics]` from the document root.
pub(super) fn read(root: &Section<'_, '_>) -> RawAlerts {
    RawAlerts {
        notify: root.table("notify", NOTIFY_KEYS).map(|section| RawNotify {
            span: section.span(),
            command: section.strings("command"),
            command_missing: section.value("command").is_none(),
            on_success: boolean(&section, "on_success"),
            on_lag: boolean(&section, "on_lag"),
            timeout: section.duration("timeout", TIMEOUT_RANGE),
        }),
        metrics: root.table("metrics", METRICS_KEYS).map(|section| RawMetrics {
            span: section.span(),
            file: section.string("file"),
            file_missing: section.value("file").is_none(),
        }),
    }
}

/// `true` or `false`; anything else is reported.
pub(super) fn boolean(section: &Section<'_, '_>, name: &str) -> Option<bool> {
    let value = section.value(name)?;
    match value.get_ref() {
        DeValue::Boolean(flag) => Some(*flag),
        _ => {
            section.wrong_type(name, value, "true or false (without quotes)");
            None
        }
    }
}

/// The validated sections; problems go to `issues` (and give `None`).
pub(super) fn validate(
    raw: &RawAlerts,
    base_dir: &Path,
    issues: &Issues,
) -> (Option<NotifyConfig>, Option<MetricsConfig>) {
    let notify = raw.notify.as_ref().and_then(|notify| validate_notify(notify, base_dir, issues));
    let metrics = raw.metrics.as_ref().and_then(|metrics| validate_metrics(metrics, base_dir, issues));
    (notify, metrics)
}

fn validate_notify(raw: &RawNotify, base_dir: &Path, issues: &Issues) -> Option<NotifyConfig> {
    let example = NOTIFY_KEYS[0].example;
    let Some(command) = &raw.command else {
        // A wrong type was already reported by the reader; only a missing key is new here.
        if raw.command_missing {
            issues.report(
                raw.span.clone(),
                "[notify] has no `command`",
                format!("add the program to run and its arguments, like `{example}`, or remove [notify]"),
            );
        }
        return None;
    };
    let Some(program) = command.get_ref().first() else {
        issues.report(
            command.span(),
            "`command` in [notify] is empty",
            format!("name the program to run and its arguments, like `{example}`"),
        );
        return None;
    };
    if program.get_ref().trim().is_empty() {
        issues.report(
            program.span(),
            "the program in `command` of [notify] is an empty string",
            format!("name the program first, like `{example}`"),
        );
        return None;
    }
    let mut words: Vec<String> = command.get_ref().iter().map(|word| word.get_ref().clone()).collect();
    words[0] = program_path(program, base_dir, issues)?;
    Some(NotifyConfig {
        command: words,
        on_success: raw.on_success.unwrap_or(false),
        on_lag: raw.on_lag.unwrap_or(false),
        timeout: raw.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| *t.get_ref()),
    })
}

/// A bare name stays as written (found in `PATH` when run); a relative path with a folder is
/// resolved against the config's folder, as every other path in tables.toml.
fn program_path(program: &Spanned<String>, base_dir: &Path, issues: &Issues) -> Option<String> {
    if !program.get_ref().contains('/') {
        return Some(program.get_ref().clone());
    }
    let what = "the program in `command` of [notify]";
    resolve_path(base_dir, program, what, issues).map(|path| path.to_string_lossy().into_owned())
}

fn validate_metrics(raw: &RawMetrics, base_dir: &Path, issues: &Issues) -> Option<MetricsConfig> {
    let example = METRICS_KEYS[0].example;
    let Some(file) = &raw.file else {
        if raw.file_missing {
            issues.report(
                raw.span.clone(),
                "[metrics] has no `file`",
                format!("add the file to write, like `{example}`, or remove [metrics]"),
            );
        }
        return None;
    };
    let path = resolve_path(base_dir, file, "`file` in [metrics]", issues)?;
    if path.extension().and_then(|e| e.to_str()) != Some("prom") {
        issues.report(
            file.span(),
            format!("`file` in [metrics] is `{}`, which does not end in .prom", file.get_ref()),
            format!("node_exporter's textfile collector reads only *.prom files: write it like `{example}`"),
        );
        return None;
    }
    Some(MetricsConfig { file: path })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{Config, load_str};

    const TABLE: &str = "[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n";

    fn load(sections: &str) -> Result<Config, Vec<(String, String)>> {
        load_str(&format!("{sections}\n{TABLE}"), Path::new("/c/tables.toml"))
            .map_err(|e| e.problems.into_iter().map(|p| (p.message, p.hint)).collect())
    }

    #[test]
    fn notify_and_metrics_land_in_the_config() {
        let config = load(
            "[notify]\ncommand = [\"hooks/page.sh\", \"--team\", \"data\"]\non_success = true\n\
             timeout = \"5s\"\n[metrics]\nfile = \"out/dynashift.prom\"",
        )
        .unwrap();
        let notify = config.notify.unwrap();
        assert_eq!(notify.command, ["/c/hooks/page.sh", "--team", "data"]);
        assert!(notify.on_success && !notify.on_lag);
        assert_eq!(notify.timeout, Duration::from_secs(5));
        assert_eq!(config.metrics.unwrap().file, Path::new("/c/out/dynashift.prom"));
    }

    #[test]
    fn defaults_apply_and_a_bare_program_is_left_to_path() {
        let config = load("[notify]\ncommand = [\"page\"]").unwrap();
        let notify = config.notify.unwrap();
        assert_eq!(notify.command, ["page"]);
        assert!(!notify.on_success && !notify.on_lag);
        assert_eq!(notify.timeout, Duration::from_secs(30));
        assert!(load("").unwrap().notify.is_none());
        assert!(load("").unwrap().metrics.is_none());
    }

    #[test]
    fn an_empty_or_missing_command_is_refused() {
        for (text, expected) in [
            ("[notify]\ncommand = []", "`command` in [notify] is empty"),
            ("[notify]\ncommand = [\"\"]", "the program in `command` of [notify] is an empty string"),
            ("[notify]\non_success = true", "[notify] has no `command`"),
            ("[notify]\ncommand = \"page --team data\"", "`command` in [notify] must be an array of strings"),
            ("[notify]\ncommand = [\"p\"]\non_lag = \"yes\"", "`on_lag` in [notify] must be true or false"),
            ("[notify]\ncommand = [\"p\"]\ntimeout = \"0s\"", "`timeout` in [notify] is 0s, but it must be"),
            ("[notify]\ncommand = [\"p\"]\nretries = 3", "unknown key `retries` in [notify]"),
        ] {
            let problems = load(text).unwrap_err();
            assert!(problems.iter().any(|(m, _)| m.starts_with(expected)), "{text}: {problems:?}");
        }
    }

    #[test]
    fn a_metrics_file_must_be_a_prom_file() {
        let problems = load("[metrics]\nfile = \"/var/lib/dynashift.txt\"").unwrap_err();
        assert!(problems[0].0.contains("does not end in .prom"), "{problems:?}");
        assert!(problems[0].1.contains("textfile collector"), "{problems:?}");
        let problems = load("[metrics]").unwrap_err();
        assert_eq!(problems[0].0, "[metrics] has no `file`");
    }
}
