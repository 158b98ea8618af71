//! A handler's panic is a bug, never a dropped connection: [`CatchUnwind`] turns a panic inside
//! a future into an `Err`, so the router answers 500 and counts it, and the connection lives on.
//! The panic's message is not kept: it may quote the request (a string that was sliced, a value
//! that was unwrapped), and the process-wide hook (`app`) logs only where the panic happened.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future whose panic becomes `Err(Panicked)`.
pub struct CatchUnwind<F> {
    inner: Pin<Box<F>>,
}

/// The future panicked (what it said is not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

impl<F: Future> CatchUnwind<F> {
    pub fn new(inner: F) -> CatchUnwind<F> {
        CatchUnwind { inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        // The future is not polled again after a panic: whatever it left half-done is dropped
        // with it, and nothing else observes it.
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(Panicked)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_an_error_and_a_value_passes() {
        assert_eq!(CatchUnwind::new(async { 7 }).await, Ok(7));
        let text = String::from("é");
        let panicking = async move { text[0..1].len() };
        assert_eq!(CatchUnwind::new(panicking).await, Err(Panicked));
    }
}
