// The AsyncAPI React component's Standalone view, bundled for the /docs page by scripts/build-docs.js
// without the AsyncAPI parser: the parser compiles JSON schemas with eval, which the page's CSP
// refuses, so the page hands the component a document already in parsed form (docs.js).
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import Standalone from '@asyncapi/react-component/lib/esm/containers/AsyncApi/Standalone';

window.AsyncApiStandalone = {
  render(props, element) {
    createRoot(element).render(createElement(Standalone, props));
  },
};
