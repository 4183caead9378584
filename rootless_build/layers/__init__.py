"""Layer tars: writing, hashing/compressing, whiteouts, safe extraction, tree diffs.

Import from the modules (nothing is re-exported, so importing a submodule stays cheap):

    tarwriter.LayerTarWriter      deterministic entry-level tar writer
    tree.write_tree / add_tree    a directory (COPY source, overlay upper) as layer entries
    diff.write_diff               layer between a rootfs and its modified full copy
    sink.LayerSink, LayerDigests  one pass: diff_id + compression + digest of the blob
    compression.compress_file     gzip/zstd variant of a stored uncompressed layer
    compression.open_uncompressed read any layer blob as a tar stream
    zstdchunked.write_chunked     zstd:chunked: a frame per file + the TOC containers/storage reads
    tarreader.read_entries        THE tar reader: every header validated (layers, archives, ADD)
    tarreader.scan_file           validate a stored tar's headers (load, import)
    tarsparse                     GNU sparse maps, checked; holes stay holes
    extract.extract_layer         safe, streaming extraction (apply / overlay lower dir)
    safeopen.open_beneath         open below a directory fd, no symlink at any component
    whiteouts                     OCI, kernel overlay and fuse-overlayfs whiteout formats
    fileobj                       protocols of the file objects read and written (ByteReader,
                                  ChunkReader with readinto, ByteWriter, DecodedStream)
"""
