// What Vite does for the console's assets, for tests that bundle console modules with esbuild: the world
// outlines are imported as a URL (`outlines` is the module text standing for it) and CSS is left out.
import type { Plugin } from 'esbuild';

export function consoleAssets(outlines = "export default ''"): Plugin {
  return {
    name: 'console-assets',
    setup(b) {
      b.onResolve({ filter: /\?url$/ }, () => ({ path: 'outlines', namespace: 'stub' }));
      b.onResolve({ filter: /\.css$/ }, () => ({ path: 'css', namespace: 'stub' }));
      b.onLoad({ filter: /^outlines$/, namespace: 'stub' }, () => ({ contents: outlines, loader: 'js' }));
      b.onLoad({ filter: /^css$/, namespace: 'stub' }, () => ({ contents: '', loader: 'js' }));
    },
  };
}
