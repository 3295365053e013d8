//! The emulator command line (work in progress).

fn main() {}
