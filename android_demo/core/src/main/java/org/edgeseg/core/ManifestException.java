package org.edgeseg.core;

/** A manifest.json that cannot drive the app: missing or malformed field, inconsistent shapes. */
public class ManifestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ManifestException(String message) {
        super(message);
    }

    public ManifestException(String message, Throwable cause) {
        super(message, cause);
    }
}
