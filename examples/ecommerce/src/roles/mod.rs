//! The processes of the system, one per role: `capture`, `translate`, `project`, `saga`,
//! `inventory`, `payment`. Each runs until SIGTERM/ctrl-c; all state is durable, so a role
//! killed at any moment picks up where it stopped.

pub mod capture;
pub mod choreography;
pub mod participants;
pub mod project;
pub mod saga;
pub mod supervisor;
pub mod translate;

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
