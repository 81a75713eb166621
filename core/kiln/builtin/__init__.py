"""kiln's own components: null and file builders; shell, file, shell-local and
breakpoint provisioners; shell-local, checksum, compress and artifice post-processors."""
