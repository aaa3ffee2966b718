//! An opt-in bump allocator for plugins, faster than the default allocator
//! because rekon runs every call in a fresh instance.
//!
//! The host instantiates a plugin afresh for each call and drops the instance
//! afterwards, so nothing a call allocates has to outlive it: this allocator
//! hands out memory by moving a pointer forward and reuses memory only when
//! the most recent allocation is freed or resized (the common case of a
//! growing `String` or `Vec`). Everything else is given back when the
//! instance is dropped.
//!
//! The price is memory: a call keeps what it freed, so it peaks higher than
//! with the default allocator (docs/PERFORMANCE.md measures by how much), and
//! the call's memory cap (`memory-mib`, 64 MiB by default) is reached sooner;
//! reaching it stops the call with the usual "memory cap reached" error. A
//! plugin whose calls churn through much more memory than they keep (one that
//! builds and drops large temporaries per object) should stay on the default
//! allocator.
//!
//! It starts in an arena of [`ARENA_BYTES`] (8 MiB) in the module's own
//! zero-initialized data, and asks the host for more memory (`memory.grow`)
//! only when that runs out. The arena costs nothing in the `.wasm` file (zero
//! bytes are not stored) and nothing in memory until a page of it is touched,
//! but it is part of the plugin's memory from the start. That is the point:
//! wasmtime changes page protections (`mprotect`) for every page a call grows
//! its memory by, and again when the next call's instance starts back at the
//! initial size, so a call served from the arena saves both (one-object calls
//! about 15% faster, calls over 1,000 Deployments 3-6%: docs/PERFORMANCE.md,
//! "A memory that does not grow"). It also means a plugin on this allocator
//! needs a `memory-mib` of at least 10 (the arena plus the 1 MiB stack and
//! the program's data); below that, loading it fails with "memory cap of N
//! MiB reached".
//!
//! Opt in from the plugin crate:
//!
//! ```ignore
//! #[cfg(target_arch = "wasm32")]
//! #[global_allocator]
//! static ALLOCATOR: rekon_plugin_sdk::alloc::Bump = rekon_plugin_sdk::alloc::Bump::new();
//! ```
//!
//! Written here rather than taken from a crate: the general-purpose wasm
//! allocators (dlmalloc, talc, lol_alloc's free list) keep free lists, which
//! is the cost this avoids, and the nearest bump allocator on crates.io,
//! lol_alloc's `LeakingAllocator`, calls itself not production ready and
//! copies on every `realloc` instead of growing the last block in place
//! (what a growing `String` or `Vec` does all the time).

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::{Cell, UnsafeCell};
use core::ptr;

/// Bytes of a WebAssembly page.
const PAGE: usize = 64 * 1024;

/// Memory is asked of the host in steps of at least this many bytes, so a
/// call grows its memory (a call into the host each time) a few dozen times
/// at most; the pages are only touched, and so only cost, when used.
const STEP: usize = 1 << 20;

/// Bytes of the arena a call allocates from before it grows its memory (see
/// the [module docs](self)): what a call over about 1,000 Deployments needs,
/// and as much as the host keeps resident between calls.
pub const ARENA_BYTES: usize = 8 << 20;

/// The arena: a zeroed static, so it lies in the module's initial memory
/// (`.bss`) and adds no bytes to the file.
#[repr(C, align(16))]
struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);

// SAFETY: a wasm32-wasip2 plugin has a single thread, and only `Bump` hands
// out the arena's bytes, each block once while it is live.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));

/// The bump allocator; see the [module docs](self).
pub struct Bump {
    /// The next free byte (0: no memory taken yet).
    next: Cell<usize>,
    /// The end of the current region: the arena, or memory taken from the
    /// host.
    end: Cell<usize>,
}

// SAFETY: a wasm32-wasip2 plugin has a single thread; nothing else can reach
// the cells while a method runs.
unsafe impl Sync for Bump {}

impl Bump {
    /// An allocator that has taken no memory yet.
    pub const fn new() -> Self {
        Bump {
            next: Cell::new(0),
            end: Cell::new(0),
        }
    }

    /// Takes at least `bytes` more: the arena the first time, when they fit
    /// in it, later from the host; whether the new memory continues the
    /// current region (so the last allocation can grow in place).
    fn grow(&self, bytes: usize) -> Option<bool> {
        if self.end.get() == 0 && bytes <= ARENA_BYTES {
            let base = ARENA.0.get() as usize;
            self.next.set(base);
            self.end.set(base + ARENA_BYTES);
            return Some(false);
        }
        let pages = bytes.max(STEP).div_ceil(PAGE);
        let old = wasm32::memory_grow(0, pages);
        if old == usize::MAX {
            return None;
        }
        let base = old * PAGE;
        // The arena never ends where the memory does, and someone else (the
        // C library's malloc, used by a few libc functions) may have grown
        // the memory in between: then start over at the new pages and abandon
        // the rest of the old region.
        let contiguous = self.next.get() != 0 && base == self.end.get();
        if !contiguous {
            self.next.set(base);
        }
        self.end.set(base + pages * PAGE);
        Some(contiguous)
    }

    /// The aligned start of an allocation of `layout` at the current
    /// position, if it fits before `end`.
    #[inline(always)]
    fn fits(&self, layout: Layout) -> Option<usize> {
        let start = self.next.get().checked_next_multiple_of(layout.align())?;
        let end = start.checked_add(layout.size())?;
        (self.next.get() != 0 && end <= self.end.get()).then_some(start)
    }

    /// [`GlobalAlloc::alloc`] when the block does not fit: grow, then take
    /// it. Kept out of line so that the common path is small enough to be
    /// inlined into Rust's allocator entry point (`__rust_alloc`): every call
    /// costs more in wasmtime than natively (the callee checks the stack
    /// limit and the epoch deadline), and this saved 1-9% of a call over
    /// 1,000 Deployments (docs/PERFORMANCE.md, "A memory that does not grow").
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, layout: Layout) -> *mut u8 {
        if self.grow(layout.size() + layout.align()).is_none() {
            return ptr::null_mut();
        }
        match self.fits(layout) {
            Some(start) => {
                self.next.set(start + layout.size());
                start as *mut u8
            }
            None => ptr::null_mut(),
        }
    }
}

impl Default for Bump {
    fn default() -> Self {
        Bump::new()
    }
}

// SAFETY: every block handed out lies in the arena or in memory taken with
// `memory.grow`, and is not handed out again while live: `next` only moves
// back over the most recent block when that block is freed or shrunk.
unsafe impl GlobalAlloc for Bump {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.fits(layout) {
            Some(start) => {
                self.next.set(start + layout.size());
                start as *mut u8
            }
            None => self.alloc_slow(layout),
        }
    }

    #[inline(always)]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // Only the most recent block can be taken back.
        if block as usize + layout.size() == self.next.get() {
            self.next.set(block as usize);
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let at = block as usize;
        if at + layout.size() == self.next.get() {
            // The most recent block grows or shrinks in place when it can.
            let Some(end) = at.checked_add(new_size) else {
                return ptr::null_mut();
            };
            if end <= self.end.get() {
                self.next.set(end);
                return block;
            }
            match self.grow(end - self.end.get()) {
                None => return ptr::null_mut(),
                Some(true) => {
                    self.next.set(end);
                    return block;
                }
                Some(false) => {}
            }
        } else if new_size <= layout.size() {
            return block;
        }
        // SAFETY: the caller guarantees `new_size` with the old alignment is
        // a valid layout (GlobalAlloc::realloc's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size, as `layout` had.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct (the new one was
            // taken past the old one); the old one has `layout.size()` bytes.
            unsafe { ptr::copy_nonoverlapping(block, new, layout.size().min(new_size)) };
        }
        new
    }
}
