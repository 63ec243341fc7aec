#!/bin/sh
echo cmake $1
