//! Where a client's background work runs: the tokio runtime it was built in, or, for a client
//! built outside any runtime (a blocking program, another executor), a small private runtime on
//! a thread of its own, shared by every such client in the process. Either way `send` works:
//! its future is only a channel, which any executor can wait on.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use tokio::runtime::{Builder, Handle};

/// The runtime to spawn a client's tasks on; an error if a private one cannot be started (the
/// system is out of threads or file descriptors).
pub(crate) fn handle() -> io::Result<Handle> {
    match Handle::try_current() {
        Ok(h) => Ok(h),
        Err(_) => private(),
    }
}

/// The private runtime: a current-thread scheduler driven forever by one background thread.
pub(crate) fn private() -> io::Result<Handle> {
    static HANDLE: OnceLock<Result<Handle, Arc<io::Error>>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let start = || -> io::Result<Handle> {
                let runtime = Builder::new_current_thread().enable_all().build()?;
                let handle = runtime.handle().clone();
                thread::Builder::new()
                    .name("squall-runtime".into())
                    .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
                Ok(handle)
            };
            start().map_err(Arc::new)
        })
        .clone()
        .map_err(|e| io::Error::new(e.kind(), e.to_string()))
}

/// Waits for `future` on the calling thread, parked between wake-ups. For futures that need no
/// reactor of their own (channels, join handles): their work runs on a runtime elsewhere.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}
