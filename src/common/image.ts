import pkg from '../../package.json' with { type: 'json' };

/** The one image that runs everything: `meshid serve`, the init container and the proxy. */
export const MESHID_IMAGE_REPOSITORY = 'ghcr.io/meshid/meshid';

/** This build's own release, so an injector never writes an image older or newer than itself by default. */
export const DEFAULT_MESHID_IMAGE = `${MESHID_IMAGE_REPOSITORY}:${pkg.version}`;

/** `serve --proxy-image`'s environment variable; the install sets it to the control plane's own image. */
export const PROXY_IMAGE_ENV = 'MESHID_PROXY_IMAGE';
