// The signed-in key lives in sessionStorage: it survives a reload of the tab but not closing it, and
// other tabs never see it. It is never written to localStorage, cookies or the URL.
const KEY = 'gpupool.apiKey';

export interface Who {
  accountId: string;
  role: 'admin' | 'consumer' | 'provider';
}

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  signIn: (key: string) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};
