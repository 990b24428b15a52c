//! Choosing the client for each message of a run by its route ([`Outbox::run_routed`]).
//!
//! [`Outbox::run_routed`]: crate::Outbox::run_routed

use std::collections::HashMap;
use std::sync::Mutex;

/// What the application gives [`Outbox::run_routed`](crate::Outbox::run_routed): the client for
/// a route, or why there is none.
pub(crate) type Router = dyn Fn(Option<&str>) -> Result<squall::Client, String> + Send + Sync;

/// The router and its answers for this run: each route is asked about once, so every message
/// of one route shares one client (and its connections), and a refusal is not recomputed for
/// each message.
pub(crate) struct Routes {
    router: Box<Router>,
    /// Bounded by the number of distinct routes among the messages of the run.
    cache: Mutex<HashMap<Option<String>, Result<squall::Client, String>>>,
}

impl Routes {
    pub(crate) fn new(router: Box<Router>) -> Self {
        Self {
            router,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `route`: the router's answer, asked once per run.
    pub(crate) fn client(&self, route: Option<&str>) -> Result<squall::Client, String> {
        // A router that panicked poisons the lock; what is cached is still whole (inserts are
        // single steps), so go on with it.
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(answer) = cache.get(&route.map(str::to_string)) {
            return answer.clone();
        }
        let answer = (self.router)(route);
        cache.insert(route.map(str::to_string), answer.clone());
        answer
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn each_route_is_asked_once_and_refusals_are_kept() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let routes = Routes::new(Box::new(move |route| {
            c.fetch_add(1, Ordering::SeqCst);
            Err(format!("no client for {route:?}"))
        }));
        for _ in 0..3 {
            assert_eq!(
                routes.client(Some("a")).err().as_deref(),
                Some("no client for Some(\"a\")")
            );
            assert_eq!(routes.client(None).err().as_deref(), Some("no client for None"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
