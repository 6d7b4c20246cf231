//! A hashing thread fed with a copy's buffers, in order, handing them back for reuse.
//!
//! SHA-256 (about 1.5 GiB/s on one core with SHA-NI) costs more than the copy itself, so the
//! digest is computed on a second thread while the first already moves the next buffer. A few
//! large buffers circulate between the two, allocated at most once per transfer; nothing is
//! allocated per chunk.

use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::Hasher;

pub struct HashPipe {
    full: mpsc::SyncSender<(Vec<u8>, usize)>,
    free: mpsc::Receiver<Vec<u8>>,
    worker: JoinHandle<Hasher>,
    /// Buffers in circulation (the caller's included), and at most how many.
    allocated: usize,
    buffers: usize,
    size: usize,
    broken: bool,
}

impl HashPipe {
    /// Starts the thread. `buffers` (at least 2) buffers of `size` bytes circulate at most,
    /// the one in the caller's hand included.
    pub fn start(mut hasher: Hasher, buffers: usize, size: usize) -> HashPipe {
        let buffers = buffers.max(2);
        let (full, to_hash) = mpsc::sync_channel::<(Vec<u8>, usize)>(buffers);
        let (give_back, free) = mpsc::channel::<Vec<u8>>();
        let worker = std::thread::spawn(move || {
            for (buf, len) in to_hash {
                hasher.update(&buf[..len]);
                // The copy side may have finished: the buffer is then simply dropped.
                let _ = give_back.send(buf);
            }
            hasher
        });
        HashPipe {
            full,
            free,
            worker,
            allocated: 1,
            buffers,
            size,
            broken: false,
        }
    }

    /// A fresh buffer of the pipe's size, for the caller's first fill.
    pub fn buffer(&self) -> Vec<u8> {
        vec![0u8; self.size]
    }

    /// Hands over a filled buffer (its first `len` bytes are hashed) and returns one to fill
    /// next: a free one, a new one while fewer than `buffers` exist, else the next one the
    /// hasher gives back.
    pub fn exchange(&mut self, buf: Vec<u8>, len: usize) -> Vec<u8> {
        if !self.broken && self.full.send((buf, len)).is_ok() {
            if let Ok(next) = self.free.try_recv() {
                return next;
            }
            if self.allocated < self.buffers {
                self.allocated += 1;
                return self.buffer();
            }
            if let Ok(next) = self.free.recv() {
                return next;
            }
        }
        // The hashing thread died: the digest is lost, the copy goes on.
        self.broken = true;
        self.buffer()
    }

    /// Waits for the hasher to take in every buffer handed over. None when its thread died.
    pub fn finish(self) -> Option<Hasher> {
        drop(self.full);
        let hasher = self.worker.join().ok();
        if self.broken {
            None
        } else {
            hasher
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::hash::HashAlgo;

    #[test]
    fn hashes_every_buffer_in_order_and_recycles_them() {
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 241) as u8).collect();
        let mut pipe = HashPipe::start(Hasher::new(HashAlgo::Sha256), 3, 64 << 10);
        let mut buf = pipe.buffer();
        let mut pointers = std::collections::HashSet::new();
        for chunk in data.chunks(50_000) {
            buf[..chunk.len()].copy_from_slice(chunk);
            pointers.insert(buf.as_ptr() as usize);
            buf = pipe.exchange(buf, chunk.len());
        }
        assert!(pointers.len() <= 3, "{} buffers allocated", pointers.len());
        let mut whole = Hasher::new(HashAlgo::Sha256);
        whole.update(&data);
        assert_eq!(
            pipe.finish().expect("hasher").finish_hex(),
            whole.finish_hex()
        );
    }
}
