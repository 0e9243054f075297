//! Stop signals (SIGTERM, SIGHUP, SIGINT; Ctrl-C elsewhere), for both front ends: the console
//! leaves cleanly, restoring the terminal, and headless runs cancel their runs — so a remote
//! export poll or a Redshift statement is stopped, not abandoned — instead of the process dying.

/// The stop signals, listened to from creation on (the default action no longer applies).
pub struct Signals {
    #[cfg(unix)]
    streams: Vec<tokio::signal::unix::Signal>,
}

impl Signals {
    #[cfg(unix)]
    pub fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let kinds = [SignalKind::terminate(), SignalKind::hangup(), SignalKind::interrupt()];
        Ok(Signals { streams: kinds.into_iter().map(signal).collect::<Result<_, _>>()? })
    }

    #[cfg(not(unix))]
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    /// Waits for the next stop signal.
    #[cfg(unix)]
    pub async fn recv(&mut self) {
        let waits = self.streams.iter_mut().map(|s| Box::pin(s.recv()));
        futures::future::select_all(waits).await;
    }

    /// Waits for the next stop signal.
    #[cfg(not(unix))]
    pub async fn recv(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
