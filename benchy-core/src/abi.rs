//! The plugin ABI: the C-level contract between benchy and a plugin library.
//!
//! Rust has no stable ABI, so nothing Rust-specific crosses this boundary. A plugin library
//! exports one `extern "C"` function, named `benchy_plugin_v<ABI>_<crate>` (the name is written
//! in the plugin's manifest), that takes nothing and returns a pointer to a [`PluginTable`]:
//!
//! ```text
//! offset  field             C type
//! 0       abi_version       uint32_t      = 1; first in every ABI version
//! 4       table_size        uint32_t      sizeof the table; first in every ABI version
//! 8       protocol_version  uint32_t      the JSON protocol (crate::protocol)
//! 16      manifest          {const uint8_t *ptr; size_t len}   the embedded manifest
//! 32      context           const void *  passed back to call and free
//! 40      call              int32_t (*)(const void *context, ByteView method,
//!                                        ByteView request, ByteBuf *reply)
//! 48      free              void (*)(const void *context, ByteBuf buffer)
//! ```
//!
//! `call` runs one method (`source.resolve`...) on a UTF-8 method name and a JSON request, and
//! writes a JSON reply it allocated into `*reply`; its return value is a `STATUS_*` code. The
//! host copies the reply and hands the buffer back to `free`: the side that allocates a buffer
//! frees it. `call` may be called from several threads at once. The table and everything it
//! points at live as long as the library, which the host never unloads.
// The boundary: this module defines the raw pointers and buffers that cross it.
#![allow(unsafe_code)]

use std::ffi::c_void;

use crate::sdk::Plugin;

/// The ABI major version this benchy speaks; it is part of the entry symbol's name.
pub const ABI_VERSION: u32 = 1;

/// The JSON protocol version (the shapes of requests and replies in [`crate::protocol`]).
pub const PROTOCOL_VERSION: u32 = 1;

/// Every entry symbol of this ABI starts with this; `export_plugin!` appends the crate name,
/// so two plugins linked into one program (tests, a bundle) do not collide.
pub const ENTRY_PREFIX: &str = "benchy_plugin_v1_";

/// `call` succeeded: the reply is the method's result.
pub const STATUS_OK: i32 = 0;
/// The method failed the way its trait fails: the reply is the error (`SourceError`...).
pub const STATUS_ERROR: i32 = 1;
/// The plugin could not run the method (a panic, an unknown method or name, a request it could
/// not read): the reply is a [`crate::protocol::Fault`].
pub const STATUS_FAULT: i32 = 2;

/// Bytes lent for the duration of a call (or, for the manifest, for the library's lifetime).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ByteView {
    pub ptr: *const u8,
    pub len: usize,
}

impl ByteView {
    pub const fn of(bytes: &[u8]) -> ByteView {
        ByteView {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// The bytes; a null pointer reads as empty.
    ///
    /// # Safety
    /// Unless `ptr` is null or `len` is 0, `ptr` must point at `len` initialized bytes that stay
    /// valid and unchanged for `'a`.
    pub unsafe fn as_slice<'a>(self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            return &[];
        }
        // SAFETY: non-null, and the caller promises `len` readable bytes living for 'a.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Bytes the plugin allocated for the host; the host reads them and passes them to `free`.
#[repr(C)]
#[derive(Debug)]
pub struct ByteBuf {
    pub ptr: *mut u8,
    pub len: usize,
}

impl ByteBuf {
    pub const EMPTY: ByteBuf = ByteBuf {
        ptr: std::ptr::null_mut(),
        len: 0,
    };

    /// Hands `bytes` over; [`ByteBuf::into_vec`] in the same library takes them back.
    pub fn from_vec(bytes: Vec<u8>) -> ByteBuf {
        let boxed = bytes.into_boxed_slice();
        let len = boxed.len();
        ByteBuf {
            ptr: Box::into_raw(boxed).cast::<u8>(),
            len,
        }
    }

    /// Takes back a buffer made by [`ByteBuf::from_vec`].
    ///
    /// # Safety
    /// The buffer must be null or come from `from_vec` in this same library (the same
    /// allocator), and must not have been taken back before.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        if self.ptr.is_null() {
            return Vec::new();
        }
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr, self.len);
        // SAFETY: the caller promises this is the boxed slice `from_vec` leaked, owned by us now.
        unsafe { Box::from_raw(slice) }.into_vec()
    }

    /// A view of the bytes, to copy them before they are freed.
    pub fn view(&self) -> ByteView {
        ByteView {
            ptr: self.ptr,
            len: self.len,
        }
    }
}

/// Runs one method. See the module documentation.
pub type CallFn = unsafe extern "C" fn(
    context: *const c_void,
    method: ByteView,
    request: ByteView,
    reply: *mut ByteBuf,
) -> i32;

/// Frees a buffer `call` wrote into `reply`.
pub type FreeFn = unsafe extern "C" fn(context: *const c_void, buffer: ByteBuf);

/// The entry function as the host sees it: foreign code returning a possibly null pointer.
pub type EntryFn = unsafe extern "C" fn() -> *const TableHeader;

/// The two fields every ABI version starts its table with, so a host can read them from a table
/// of any version before trusting the rest.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableHeader {
    pub abi_version: u32,
    pub table_size: u32,
}

/// What the entry function returns. Built by `export_plugin!` through [`PluginTable::new`], or
/// by hand through [`PluginTable::from_raw_parts`] for a plugin written without the SDK.
#[repr(C)]
#[derive(Debug)]
pub struct PluginTable {
    pub(crate) header: TableHeader,
    pub(crate) protocol_version: u32,
    pub(crate) manifest: ByteView,
    pub(crate) context: *const c_void,
    pub(crate) call: CallFn,
    pub(crate) free: FreeFn,
}

// SAFETY: a table is never changed after it is built; its pointers refer to 'static data (the
// manifest, the SDK's `Plugin`, which is `Sync`) and its functions may be called from any thread
// (a requirement of the ABI, met by the SDK because providers are `Send + Sync`).
unsafe impl Sync for PluginTable {}
// SAFETY: as above; nothing in a table is tied to the thread that built it.
unsafe impl Send for PluginTable {}

/// The size of this ABI's table, as written in `table_size`.
pub const TABLE_SIZE: u32 = size_of::<PluginTable>() as u32;

impl PluginTable {
    /// The table of an SDK plugin; `export_plugin!` builds it in a `static`.
    pub const fn new(
        abi_version: u32,
        protocol_version: u32,
        manifest: &'static str,
        plugin: &'static Plugin,
    ) -> PluginTable {
        PluginTable {
            header: TableHeader {
                abi_version,
                table_size: TABLE_SIZE,
            },
            protocol_version,
            manifest: ByteView::of(manifest.as_bytes()),
            context: (plugin as *const Plugin).cast::<c_void>(),
            call: crate::sdk::call,
            free: crate::sdk::free,
        }
    }

    /// A table whose functions are written by hand.
    ///
    /// # Safety
    /// `manifest` must point at bytes that live forever; `call` and `free` must honour the
    /// contract in the module documentation for this `context`, from any thread.
    pub const unsafe fn from_raw_parts(
        abi_version: u32,
        protocol_version: u32,
        manifest: &'static [u8],
        context: *const c_void,
        call: CallFn,
        free: FreeFn,
    ) -> PluginTable {
        PluginTable {
            header: TableHeader {
                abi_version,
                table_size: TABLE_SIZE,
            },
            protocol_version,
            manifest: ByteView::of(manifest),
            context,
            call,
            free,
        }
    }

    pub fn header(&self) -> TableHeader {
        self.header
    }

    pub fn protocol_version(&self) -> u32 {
        self.protocol_version
    }

    /// Runs one method through the table: the status and a copy of the reply, whose buffer goes
    /// back to the plugin's `free` before this returns. A `&PluginTable` exists only for a
    /// table built by [`PluginTable::new`] or [`PluginTable::from_raw_parts`], or one a host
    /// read from a library after checking its header and size, so its functions honour the
    /// contract above.
    pub fn call(&self, method: &str, request: &[u8]) -> (i32, Vec<u8>) {
        let mut reply = ByteBuf::EMPTY;
        // SAFETY: the table is valid (see above); both views borrow live slices for the call,
        // and `reply` is a valid place for the plugin to write its buffer into.
        let status = unsafe {
            (self.call)(
                self.context,
                ByteView::of(method.as_bytes()),
                ByteView::of(request),
                &mut reply,
            )
        };
        // SAFETY: the plugin wrote `len` bytes at `ptr` (or left the buffer null), valid until
        // it is freed below.
        let bytes = unsafe { reply.view().as_slice() }.to_vec();
        if !reply.ptr.is_null() {
            // SAFETY: this buffer came from this call and goes back to the plugin once.
            unsafe { (self.free)(self.context, reply) };
        }
        (status, bytes)
    }

    /// The manifest bytes, markers included (the same bytes a file scan finds).
    pub fn manifest_bytes(&self) -> &'static [u8] {
        // SAFETY: `new` takes a `&'static str`, `from_raw_parts` a `&'static [u8]`, and a table
        // read from a library is only viewed as a `PluginTable` after the loader checked its
        // size; the ABI requires its manifest to live as long as the library, which is never
        // unloaded.
        unsafe { self.manifest.as_slice() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_leads_every_table_and_the_layout_is_the_documented_one() {
        assert_eq!(std::mem::offset_of!(PluginTable, header), 0);
        assert_eq!(std::mem::offset_of!(TableHeader, abi_version), 0);
        assert_eq!(std::mem::offset_of!(TableHeader, table_size), 4);
        if cfg!(target_pointer_width = "64") {
            assert_eq!(std::mem::offset_of!(PluginTable, protocol_version), 8);
            assert_eq!(std::mem::offset_of!(PluginTable, manifest), 16);
            assert_eq!(std::mem::offset_of!(PluginTable, context), 32);
            assert_eq!(std::mem::offset_of!(PluginTable, call), 40);
            assert_eq!(std::mem::offset_of!(PluginTable, free), 48);
            assert_eq!(TABLE_SIZE, 56);
        }
    }

    #[test]
    fn the_entry_prefix_carries_the_abi_version() {
        assert_eq!(ENTRY_PREFIX, format!("benchy_plugin_v{ABI_VERSION}_"));
    }

    #[test]
    fn buffers_round_trip_and_null_reads_as_empty() {
        let buf = ByteBuf::from_vec(b"{\"a\":1}".to_vec());
        // SAFETY: the buffer was just made and is still owned here.
        assert_eq!(unsafe { buf.view().as_slice() }, b"{\"a\":1}");
        // SAFETY: made by from_vec above, taken back once.
        assert_eq!(unsafe { buf.into_vec() }, b"{\"a\":1}");
        // SAFETY: a null view is documented to read as empty.
        assert!(unsafe { ByteBuf::EMPTY.view().as_slice() }.is_empty());
        // SAFETY: a null buffer is documented to come back empty.
        assert!(unsafe { ByteBuf::EMPTY.into_vec() }.is_empty());
    }
}
