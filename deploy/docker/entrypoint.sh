#!/bin/sh
# Run the image's program (PID 1 through exec); without arguments, its default ones.
[ "$#" -eq 0 ] && set -- $USKALLA_DEFAULT_ARGS
exec "$USKALLA_PROGRAM" "$@"
