#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dynashift::pipeline::stage::fuzzing::staged_line(data));
