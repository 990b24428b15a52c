//! Pool policy that the integration tests only reach by timing.

use std::time::Duration;

use squall_proto::address::Mailbox;
use squall_proto::envelope::Envelope;

use super::*;
use crate::ClientBuilder;
use crate::body::Body;

/// A job whose deadline passed while its retry waited for a connection (a slow connect under
/// load) fails with what failed its last attempt, not with a bare "deadline" that hides it.
#[tokio::test]
async fn a_deadline_passing_before_the_retry_reports_the_last_failure() {
    let config = ClientBuilder::new("mx")
        .retries(5)
        .message_deadline(Duration::from_millis(1))
        .resolve()
        .unwrap();
    let pool = Pool::new(config, tokio::runtime::Handle::current());
    let to = Mailbox::parse("b@example.net").unwrap();
    let envelope = Envelope::new(Mailbox::parse("a@example.org").unwrap(), [to]).unwrap();
    let (mut job, outcome) = Job::new(envelope, Body::from("x"), None, Some(Duration::ZERO));
    job.last_error = Some(Error::new(
        ErrorKind::Transient,
        Stage::Greeting,
        What::WriteStalled,
    ));
    pool.lock().jobs.push_back(job);

    assert!(matches!(pool.take(0, 8, 0), Take::Empty));
    let e = outcome.await.unwrap().unwrap_err();
    assert!(matches!(e.what(), What::WriteStalled), "{e:?}");
    assert_eq!(e.stage(), Stage::Greeting);
}
