//! The probe: set up a session as a send would, report what the server offers, send nothing.
//! What `squall config check` shows.

use std::time::{Duration, Instant};

use squall_proto::auth::Mechanism;
use squall_proto::ehlo::Capabilities;
use squall_proto::reply::Reply;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use crate::config::Config;
use crate::connect;
use crate::driver::{Driver, Feed, Link, Settled, Take};
use crate::error::Error;
use crate::job::Job;
use crate::tls::TlsInfo;

/// What a server showed while a session was set up with it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerReport {
    /// `host:port`.
    pub server: String,
    /// The 220 greeting.
    pub greeting: Reply,
    /// The extensions offered in the last EHLO (after STARTTLS, when it was used).
    pub capabilities: Capabilities,
    /// The TLS session, when there was one.
    pub tls: Option<TlsInfo>,
    /// The mechanism that logged in, when credentials were configured.
    pub authenticated: Option<Mechanism>,
    /// From connecting to ready.
    pub elapsed: Duration,
}

/// Connects, sets up, and QUITs as soon as the session is ready.
pub(crate) async fn run(config: &Config) -> Result<ServerReport, Error> {
    let started = Instant::now();
    let (io, session, link) = connect::open(config, || {}).await?;
    let link = Driver::new(config, io, session, link)
        .run(&mut Nothing::default())
        .await
        .map_err(|f| f.error)?;
    match link {
        Link {
            server,
            greeting: Some(greeting),
            capabilities: Some(capabilities),
            tls,
            authenticated,
            ready_at: Some(ready),
        } => Ok(ServerReport {
            server,
            greeting,
            capabilities,
            tls,
            authenticated,
            elapsed: ready.duration_since(started),
        }),
        _ => Err(Error::new(
            squall_proto::session::ErrorKind::Transient,
            squall_proto::session::Stage::Greeting,
            crate::error::What::Internal("the session was ready without a greeting and capabilities"),
        )),
    }
}

/// A feed with no messages: the session QUITs once it is ready.
#[derive(Default)]
struct Nothing(Notify);

impl Feed for Nothing {
    fn take(&mut self, _held: usize, _capacity: usize) -> Take {
        Take::Full
    }

    fn linger(&mut self, _since: Instant) -> Option<Instant> {
        None
    }

    fn changed(&self) -> Notified<'_> {
        self.0.notified()
    }

    fn settled(&mut self, _job: Job, _how: Settled, _link: &Link) {}

    fn requeue(&mut self, _jobs: Vec<Job>) {}
}
