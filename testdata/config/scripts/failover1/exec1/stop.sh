#!/bin/sh
# Test fixture: the config loader only checks that this script exists.
echo "exec1 stop"
