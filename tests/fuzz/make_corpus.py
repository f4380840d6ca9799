#!/usr/bin/env python3
"""Writes the seed corpus of the .npy fuzz targets (corpus/npy, corpus/npy_header)
and the regression inputs (regressions/): small valid and invalid .npy files, byte
by byte, without NumPy. Run it from anywhere; it rewrites only its own files."""
import random
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent


def header(descr, shape, fortran=False, version=1, raw_dict=None):
    text = raw_dict if raw_dict is not None else "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False",
        "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")")
    preamble = 10 if version == 1 else 12
    text += " " * ((64 - (preamble + len(text) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H" if version == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text.encode("latin-1")


def data(descr, values):
    code = {"<f4": "<f", "<f8": "<d", "|b1": "<B", "<i8": "<q"}[descr]
    return b"".join(struct.pack(code, v) for v in values)


def npy(descr, shape, values, **options):
    return header(descr, shape, **options) + data(descr, values)


seeds = {
    # valid files of every type the readers accept
    "f8_2x3.npy": npy("<f8", (2, 3), [1.5, -2, 0, 3.25, 1e300, -0.0]),
    "f4_4.npy": npy("<f4", (4,), [1, 2, 3.5, -4]),
    "b1_2x2.npy": npy("|b1", (2, 2), [0, 1, 1, 0]),
    "i8_3.npy": npy("<i8", (3,), [3, -1, 2**62]),
    "f8_scalar.npy": npy("<f8", (), [42.0]),
    "f8_empty.npy": npy("<f8", (0, 5), []),
    "f8_fortran_2x3.npy": npy("<f8", (2, 3), [1, 4, 2, 5, 3, 6], fortran=True),
    "f4_version2.npy": npy("<f4", (2,), [1, 2], version=2),
    "f4_version3.npy": npy("<f4", (1, 1, 2), [1, 2], version=3),
    "f8_keys_reordered.npy": header("", (), raw_dict="{\"shape\": (1,), \"fortran_order\": False, \"descr\": \"<f8\"}")
    + data("<f8", [7.0]),
    # invalid files
    "truncated_data.npy": npy("<f8", (2, 3), [1, 2, 3, 4, 5, 6])[:-5],
    "extra_data.npy": npy("<f4", (1,), [1]) + b"junk",
    "big_endian.npy": header(">f8", (1,)) + b"\0" * 8,
    "bool_byte_2.npy": header("|b1", (3,)) + b"\x00\x02\x01",
    "huge_shape.npy": header("<f8", (2**40, 2**40)),
    "one_tuple_without_comma.npy": header("", (), raw_dict="{'descr': '<f8', 'fortran_order': False, 'shape': (1)}")
    + data("<f8", [1.0]),
    "header_cut.npy": npy("<f8", (1,), [1.0])[:30],
    "version_1_1.npy": b"\x93NUMPY\x01\x01\x04\x00{}\n\n",
    "not_npy.npy": b"query,key,value\n1,2,3\n",
}
regressions = {
    # Issue 13: inputs that crashed or misbehaved in xtensor's reader, kept for good.
    "issue13_descr_of_30000_digits.npy": header("", (), raw_dict="{'descr': '<" + "9" * 30000
                                                + "', 'fortran_order': False, 'shape': (1,), }"),
    "issue13_shape_without_colon.npy": header("", (), raw_dict="{'descr': '<f8', 'fortran_order': False, 'shape'}")
    + data("<f8", [1.0]),
    "issue13_bool_bytes_not_0_or_1.npy": header("|b1", (4,)) + b"\x00\x01\x07\xff",
    # Found by npy_reader_fuzzer: an empty array (a 0 in the shape) whose other sizes multiply
    # beyond 2^63; xtensor's strides overflowed (signed integer overflow, UBSan).
    "fuzz_empty_shape_whose_strides_overflow.npy": bytes.fromhex(
        "934e554d505901007600"
        "7b27646573637227 3a20273c6634272c 2027666f72747261 6e5f6f7264657227"
        "3a2046616c73652c 2027736861706527 3a2028313039 2c20302c20343734342c3733373039"
        "2c35313631362c37 343537342c373337 30392c3531363135 3637372c20203729 7d"
        + "20" * 15 + "0a"),
}
for folder, files in ((HERE / "corpus" / "npy", seeds), (HERE / "regressions" / "npy", regressions)):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
# The header target's seeds: the headers alone, then (below) every seed whole.
(HERE / "corpus" / "npy_header").mkdir(parents=True, exist_ok=True)
for name in ("f8_2x3.npy", "f4_version2.npy", "f8_keys_reordered.npy", "one_tuple_without_comma.npy"):
    content = seeds[name]
    length = struct.unpack("<H", content[8:10])[0] if content[6] == 1 else struct.unpack("<I", content[8:12])[0]
    (HERE / "corpus" / "npy_header" / ("header_only_" + name)).write_bytes(
        content[:(10 if content[6] == 1 else 12) + length])
# The header target starts from every seed of the reader too.
for name, content in seeds.items():
    (HERE / "corpus" / "npy_header" / name).write_bytes(content)
# The weights-folder target's inputs are read by a FuzzedDataProvider: any bytes will do.
random.seed(13)
(HERE / "corpus" / "weights_folder").mkdir(parents=True, exist_ok=True)
(HERE / "regressions" / "weights_folder").mkdir(parents=True, exist_ok=True)
for i, length in enumerate((16, 64, 256, 1024, 4096)):
    (HERE / "corpus" / "weights_folder" / f"random_{length}.bin").write_bytes(random.randbytes(length))
(HERE / "regressions" / "weights_folder" / "empty.bin").write_bytes(b"")
print(f"wrote {len(seeds)} seeds, {len(regressions)} regression inputs")
