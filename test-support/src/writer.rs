//! An in-memory writer shared between a test and what writes to it (a handler's console, a
//! log subscriber, a recorder).

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// A writer whose clones share one buffer.
///
/// ```
/// use std::io::Write;
/// use llm_callbacks_test_support::SharedBuffer;
///
/// let buffer = SharedBuffer::default();
/// let mut console = buffer.clone();
/// write!(console, "row 1").unwrap();
/// assert_eq!(buffer.text(), "row 1");
/// ```
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Everything written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
