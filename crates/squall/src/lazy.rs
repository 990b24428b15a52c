//! [`Derived`]: a value computed from a source only when it is read, and again only after the
//! source changed.
//!
//! This is how a [`Message`](crate::Message) renders: its wire bytes are derived from the fields
//! that show in the message. A change to one of them marks the bytes stale; the next read renders
//! them once; reads after that reuse them; a change to something that does not show in the
//! message (Bcc, the envelope sender) lives outside the source and leaves them alone.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A value derived from `S` by a fixed function, computed lazily and cached until `S` changes.
///
/// Reading takes `&self` (the cache fills in place, safely across threads); changing the source
/// takes `&mut self`, so a read can never see a value older than the source.
pub(crate) struct Derived<S, T> {
    source: S,
    compute: fn(&S) -> T,
    value: OnceLock<T>,
    computations: AtomicU64,
}

impl<S, T> Derived<S, T> {
    /// Wraps `source`; nothing is computed yet.
    pub(crate) fn new(source: S, compute: fn(&S) -> T) -> Self {
        Self {
            source,
            compute,
            value: OnceLock::new(),
            computations: AtomicU64::new(0),
        }
    }

    /// The source, to read.
    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    /// Changes the source and marks the value stale. Nothing is computed until the next read.
    pub(crate) fn update<R>(&mut self, change: impl FnOnce(&mut S) -> R) -> R {
        self.value.take();
        change(&mut self.source)
    }

    /// The value, computed now if the source changed since it was last computed.
    pub(crate) fn get(&self) -> &T {
        self.value.get_or_init(|| {
            self.computations.fetch_add(1, Ordering::Relaxed);
            (self.compute)(&self.source)
        })
    }

    /// Whether the next [`get`](Self::get) will compute.
    pub(crate) fn is_stale(&self) -> bool {
        self.value.get().is_none()
    }

    /// How many times the value was computed (for tests and diagnostics).
    pub(crate) fn computations(&self) -> u64 {
        self.computations.load(Ordering::Relaxed)
    }
}

impl<S: Clone, T: Clone> Clone for Derived<S, T> {
    fn clone(&self) -> Self {
        Self {
            source: self.source.clone(),
            compute: self.compute,
            value: self.value.clone(),
            computations: AtomicU64::new(self.computations()),
        }
    }
}

impl<S: fmt::Debug, T> fmt::Debug for Derived<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Derived")
            .field("source", &self.source)
            .field("stale", &self.is_stale())
            .field("computations", &self.computations())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug)]
    struct Src {
        a: u32,
        b: u32,
    }

    fn sum(s: &Src) -> u32 {
        s.a + s.b
    }

    #[test]
    fn computes_only_on_read_and_only_after_change() {
        let mut d = Derived::new(Src { a: 1, b: 2 }, sum);
        assert_eq!(d.computations(), 0, "nothing computed before the first read");
        d.update(|s| s.a = 10);
        assert_eq!(d.computations(), 0, "a change without a read computes nothing");
        assert_eq!(*d.get(), 12);
        assert_eq!(d.computations(), 1, "a read computes once");
        assert_eq!(*d.get(), 12);
        assert_eq!(*d.get(), 12);
        assert_eq!(d.computations(), 1, "reads after that reuse the value");
        d.update(|s| s.b = 5);
        d.update(|s| s.b = 6);
        assert!(d.is_stale());
        assert_eq!(d.computations(), 1, "changes alone compute nothing");
        assert_eq!(*d.get(), 16);
        assert_eq!(d.computations(), 2, "one computation for several changes");
    }

    #[test]
    fn clones_keep_the_cached_value() {
        let d = Derived::new(Src { a: 1, b: 1 }, sum);
        d.get();
        let c = d.clone();
        assert_eq!(*c.get(), 2);
        assert_eq!(c.computations(), 1);
    }

    #[test]
    fn reads_from_many_threads_compute_once() {
        let d = Derived::new(Src { a: 2, b: 3 }, sum);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| assert_eq!(*d.get(), 5));
            }
        });
        assert_eq!(d.computations(), 1);
    }
}
