/**
 * The library's JFR events ({@code dev.eventfd.sync.*}): long waits, permits recovered from dead
 * processes, and named objects opened. See the README's "Observing" section.
 */
package dev.eventfd.sync.internal.jfr;
