// SPDX-License-Identifier: MIT
//! Links libvrtc: from $VRTC_LIB_DIR if set (a build tree), else from
//! the system's library path (an installed libvrtc-dev).
fn main() {
    println!("cargo:rerun-if-env-changed=VRTC_LIB_DIR");
    if let Ok(dir) = std::env::var("VRTC_LIB_DIR") {
        println!("cargo:rustc-link-search=native={}", dir);
    }
    println!("cargo:rustc-link-lib=dylib=vrtc");
}
