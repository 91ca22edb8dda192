// A job array's members are jobs named `<arrayId>-<index>` (docs/api.md, Arrays). Pure.
export const arrayJobId = (arrayId: string, index: number) => `${arrayId}-${index}`;
