"""Reading files: finding images in a folder, decoding pictures and document pages, labels and labelled sets."""
