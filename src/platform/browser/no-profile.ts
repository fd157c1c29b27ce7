/** Stands in for the AWS shared-files reader (~/.aws) in the browser build: a page has no home folder. */
export async function loadProfile(): Promise<undefined> {
  return undefined;
}
